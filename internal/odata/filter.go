package odata

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/connops/connops/internal/connections"
)

// ParseFilter parses the $filter subset connops supports:
//
//	expr    = and ("or" and)*
//	and     = unary ("and" unary)*
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | name ("eq" | "ne") literal | name "in" "(" literal ("," literal)* ")"
//	literal = 'text' with '' for a quote, optionally prefixed by an enum type name
//
// Which names and values are allowed is the domain's call; this only checks
// the syntax.
func ParseFilter(s string) (connections.Filter, error) {
	if len(s) > MaxFilterLen {
		return nil, fail(Filter, "Query option '$filter' is longer than %d characters.", MaxFilterLen)
	}
	if err := checkText(Filter, s); err != nil {
		return nil, err
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if !p.done() {
		return nil, p.fail("unexpected '%s'", truncate(p.peek().text, 64))
	}
	return f, nil
}

type tokenKind int

const (
	tokName tokenKind = iota
	tokString
	tokPunct
)

type token struct {
	kind tokenKind
	text string
}

func tokenize(s string) ([]token, error) {
	var toks []token
	r := []rune(s)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, token{tokPunct, string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(r) {
					return nil, fail(Filter, "Query option '$filter' has an unterminated string literal.")
				}
				if r[i] == '\'' {
					if i+1 < len(r) && r[i+1] == '\'' {
						b.WriteRune('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteRune(r[i])
				i++
			}
			toks = append(toks, token{tokString, b.String()})
		case unicode.IsLetter(c) || c == '_' || c == '@' || c == '$':
			j := i
			for j < len(r) && (unicode.IsLetter(r[j]) || unicode.IsDigit(r[j]) || r[j] == '_' || r[j] == '.' || r[j] == '/' || r[j] == '@' || r[j] == '$') {
				j++
			}
			// An enum literal: Namespace.Type'member'.
			if j < len(r) && r[j] == '\'' && strings.Contains(string(r[i:j]), ".") {
				i = j
				continue
			}
			toks = append(toks, token{tokName, string(r[i:j])})
			i = j
		default:
			return nil, fail(Filter, "Query option '$filter' has the unexpected character '%c'.", c)
		}
	}
	return toks, nil
}

type filterParser struct {
	toks []token
	pos  int
}

// maxFilterDepth bounds nesting so a hostile filter cannot exhaust the stack.
const maxFilterDepth = 16

func (p *filterParser) done() bool  { return p.pos >= len(p.toks) }
func (p *filterParser) peek() token { return p.toks[p.pos] }

func (p *filterParser) is(kind tokenKind, text string) bool {
	return !p.done() && p.peek().kind == kind && p.peek().text == text
}

func (p *filterParser) fail(format string, args ...any) error {
	return fail(Filter, "Query option '$filter' is malformed: %s.", fmt.Sprintf(format, args...))
}

func (p *filterParser) or(depth int) (connections.Filter, error) {
	left, err := p.and(depth)
	for err == nil && p.is(tokName, "or") {
		p.pos++
		var right connections.Filter
		if right, err = p.and(depth); err == nil {
			left = connections.Or{Left: left, Right: right}
		}
	}
	return left, err
}

func (p *filterParser) and(depth int) (connections.Filter, error) {
	left, err := p.unary(depth)
	for err == nil && p.is(tokName, "and") {
		p.pos++
		var right connections.Filter
		if right, err = p.unary(depth); err == nil {
			left = connections.And{Left: left, Right: right}
		}
	}
	return left, err
}

func (p *filterParser) unary(depth int) (connections.Filter, error) {
	if depth > maxFilterDepth {
		return nil, fail(Filter, "Query option '$filter' nests deeper than %d levels.", maxFilterDepth)
	}
	if p.is(tokName, "not") {
		p.pos++
		f, err := p.unary(depth + 1)
		return connections.Not{Operand: f}, err
	}
	if p.is(tokPunct, "(") {
		p.pos++
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.is(tokPunct, ")") {
			return nil, p.fail("a '(' is not closed")
		}
		p.pos++
		return f, nil
	}
	return p.comparison()
}

func (p *filterParser) comparison() (connections.Filter, error) {
	if p.done() || p.peek().kind != tokName {
		return nil, p.fail("expected a property name")
	}
	field := p.peek().text
	p.pos++
	if p.done() || p.peek().kind != tokName {
		return nil, p.fail("expected an operator after '%s'", truncate(field, 64))
	}
	op := p.peek().text
	p.pos++
	switch op {
	case "eq", "ne":
		v, err := p.literal()
		return connections.Comparison{Field: field, Negate: op == "ne", Value: v}, err
	case "in":
		if !p.is(tokPunct, "(") {
			return nil, p.fail("'in' needs a parenthesised list")
		}
		p.pos++
		var values []string
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			values = append(values, v)
			if p.is(tokPunct, ",") {
				p.pos++
				continue
			}
			if p.is(tokPunct, ")") {
				p.pos++
				return connections.In{Field: field, Values: values}, nil
			}
			return nil, p.fail("an 'in' list is not closed")
		}
	}
	return nil, fail(Filter, "Query option '$filter' uses the operator '%s', which is not supported; use eq, ne, in, and, or, not.", truncate(op, 64))
}

func (p *filterParser) literal() (string, error) {
	if p.done() || p.peek().kind != tokString {
		return "", p.fail("expected a quoted string literal")
	}
	v := p.peek().text
	p.pos++
	return v, nil
}
