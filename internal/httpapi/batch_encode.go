package httpapi

import (
	"encoding/json"
	"slices"
	"strconv"
)

// batchBody is the answer to a batch, encoded by hand: the inner bodies are
// already JSON written by our own handlers, and reflecting over twenty
// header maps and re-validating twenty bodies cost more CPU than the inner
// requests themselves (see docs/performance.md).
type batchBody []batchResponse

func (batchBody) preEncoded() {}

// MarshalJSON writes {"responses":[...]} with headers in sorted order.
func (b batchBody) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 0, 512*len(b))
	buf = append(buf, `{"responses":[`...)
	for i, r := range b {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"id":`...)
		buf = appendJSONString(buf, r.ID)
		buf = append(buf, `,"status":`...)
		buf = strconv.AppendInt(buf, int64(r.Status), 10)
		if len(r.Headers) > 0 {
			buf = append(buf, `,"headers":{`...)
			keys := make([]string, 0, len(r.Headers))
			for k := range r.Headers {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for j, k := range keys {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = appendJSONString(buf, k)
				buf = append(buf, ':')
				buf = appendJSONString(buf, r.Headers[k])
			}
			buf = append(buf, '}')
		}
		if len(r.Body) > 0 {
			buf = append(buf, `,"body":`...)
			buf = append(buf, r.Body...)
		}
		buf = append(buf, '}')
	}
	return append(buf, "]}"...), nil
}

// appendJSONString appends s as a JSON string. Plain ASCII, the usual case
// for ids and header values, is copied as is; anything else goes through the
// encoder, which escapes it properly.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
