package httpapi

import (
	"bytes"
	"encoding/json"
)

// object is a JSON object whose members keep the order they were added in,
// so a representation can leave out what $select did not ask for without
// the reflection round trip of marshalling a struct into a map.
type object []member

type member struct {
	name  string
	value any
}

func (o object) add(name string, value any) object { return append(o, member{name, value}) }

// MarshalJSON writes the members in order. Values are encoded without HTML
// escaping: links carry & and other characters it would mangle.
func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(m.name)
		buf.Write(name)
		buf.WriteByte(':')
		if err := enc.Encode(m.value); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// selected reports whether a representation includes property p under the
// $select list (everything when there is none). The key is always there.
func selected(selects []string, p string) bool {
	if len(selects) == 0 || p == "id" {
		return true
	}
	for _, s := range selects {
		if s == p {
			return true
		}
	}
	return false
}
