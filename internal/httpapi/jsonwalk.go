package httpapi

import (
	"bytes"
	"encoding/json"
)

// The walkers here step through JSON that encoding/json has already judged
// valid, finding members and elements by their brackets and quotes alone.
// The strict decoders check a body once and then walk each nested object
// over its own bytes; walking those with json.Decoder's tokens instead ran
// the scanner's state machine over every value again at each level, most of
// a PUT's CPU for an item with kilobytes of content.

// walkObject calls member with each key and raw value of the object that
// raw (valid JSON) holds, in order. It reports false when raw is not an
// object.
func walkObject(raw []byte, member func(key string, value json.RawMessage) error) (bool, error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false, nil
	}
	i = skipSpace(raw, i+1)
	if raw[i] == '}' {
		return true, nil
	}
	for {
		end := skipString(raw, i)
		key, err := jsonKey(raw[i:end])
		if err != nil {
			return true, err
		}
		i = skipSpace(raw, skipSpace(raw, end)+1) // past the colon
		vend := skipValue(raw, i)
		if err := member(key, raw[i:vend]); err != nil {
			return true, err
		}
		i = skipSpace(raw, vend)
		if raw[i] == '}' {
			return true, nil
		}
		i = skipSpace(raw, i+1) // past the comma
	}
}

// walkArray returns the raw elements of the array that raw (valid JSON)
// holds, or false when raw is not an array.
func walkArray(raw []byte) ([]json.RawMessage, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	elems := []json.RawMessage{}
	i = skipSpace(raw, i+1)
	if raw[i] == ']' {
		return elems, true
	}
	for {
		end := skipValue(raw, i)
		elems = append(elems, raw[i:end])
		i = skipSpace(raw, end)
		if raw[i] == ']' {
			return elems, true
		}
		i = skipSpace(raw, i+1)
	}
}

// jsonKey reads a member name; only one with escapes needs encoding/json.
func jsonKey(quoted []byte) (string, error) {
	if s, ok := plainString(quoted); ok {
		return s, nil
	}
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]: the
// first quote not escaped by an odd run of backslashes.
func skipString(b []byte, i int) int {
	i++
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		slashes := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			slashes++
		}
		i++
		if slashes%2 == 0 {
			return i
		}
	}
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
