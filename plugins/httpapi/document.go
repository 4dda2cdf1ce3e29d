package httpapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxDepth bounds nesting in answers; deeper documents are refused rather
// than walked, as no aggregator answer legitimately nests that far.
const maxDepth = 64

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// node is one value of a parsed answer. JSON and XML answers become the same
// tree, so one selector language serves both: a JSON object key or an XML
// element is a child by name, an XML attribute is a child named "@attr", and
// a JSON array contributes each of its elements as a child under the array's
// own name, just as repeated XML elements do.
type node struct {
	name string
	text string
	kids []*node
}

// Format is how a request body or an answer is encoded.
type format string

const (
	formatJSON format = "json"
	formatXML  format = "xml"
	formatNone format = "none"
)

// parseDocument parses an answer in the given format.
func parseDocument(f format, body []byte) (*node, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("the answer is empty")
	}
	switch f {
	case formatXML:
		return parseXML(body)
	default:
		return parseJSON(body)
	}
}

// parseJSON reads a JSON document. For an object the root is that object; for
// an array the root's children are its elements, named "".
func parseJSON(body []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	vals, err := readJSONValue(dec, "", 0)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: unexpected data after the document")
	}
	if bytes.TrimSpace(body)[0] == '[' {
		return &node{kids: vals}, nil
	}
	return vals[0], nil
}

// readJSONValue reads one value and returns the nodes it becomes under name:
// one for a scalar or an object, one per element for an array.
func readJSONValue(dec *json.Decoder, name string, depth int) ([]*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{name: name}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				kids, err := readJSONValue(dec, key, depth+1)
				if err != nil {
					return nil, err
				}
				n.kids = append(n.kids, kids...)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return []*node{n}, nil
		case '[':
			var out []*node
			for dec.More() {
				kids, err := readJSONValue(dec, name, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, kids...)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return out, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case nil:
		return []*node{{name: name}}, nil
	case string:
		return []*node{{name: name, text: t}}, nil
	case json.Number:
		return []*node{{name: name, text: t.String()}}, nil
	case bool:
		return []*node{{name: name, text: fmt.Sprint(t)}}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// parseXML reads an XML document with encoding/xml, which checks that it is
// well formed. The root is a document node whose one child is the root
// element, so selectors start with the root element's name, as in XPath.
func parseXML(body []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return r, nil
		}
		return nil, fmt.Errorf("the answer is encoded in %q; only UTF-8 is supported", label)
	}
	doc := &node{}
	stack := []*node{doc}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid XML: %w", err)
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxDepth {
				return nil, fmt.Errorf("invalid XML: nested deeper than %d levels", maxDepth)
			}
			if top == doc && len(doc.kids) > 0 {
				return nil, errors.New("invalid XML: more than one root element")
			}
			n := &node{name: t.Name.Local}
			for _, a := range t.Attr {
				n.kids = append(n.kids, &node{name: "@" + a.Name.Local, text: a.Value})
			}
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			top.text = strings.TrimSpace(top.text)
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if top != doc {
				top.text += string(t)
			}
		}
	}
	if len(doc.kids) == 0 {
		return nil, errors.New("invalid XML: no root element")
	}
	return doc, nil
}

// selector picks values out of a parsed answer: dot-separated steps, each a
// child name, "*" for every child, and as the last step "#key" (the node's
// own name: a JSON object key, an XML element name) or "#text" (its value,
// the default). An empty selector selects the node it starts from.
type selector struct {
	src   string
	steps []string
	last  string // "#key" or "#text"
}

func parseSelector(s string) (selector, error) {
	sel := selector{src: s, last: "#text"}
	if s == "" || s == "." {
		return sel, nil
	}
	steps := strings.Split(s, ".")
	for i, st := range steps {
		switch {
		case st == "":
			return sel, fmt.Errorf("selector %q has an empty step; write steps as a.b.c", s)
		case st == "#key" || st == "#text":
			if i != len(steps)-1 {
				return sel, fmt.Errorf("selector %q: %s may only be the last step", s, st)
			}
			sel.last = st
			steps = steps[:i]
		case strings.HasPrefix(st, "#"):
			return sel, fmt.Errorf("selector %q: unknown step %q (known: #key, #text)", s, st)
		}
	}
	sel.steps = steps
	return sel, nil
}

// nodes returns every node the selector's steps reach from n, in document order.
func (s selector) nodes(n *node) []*node {
	cur := []*node{n}
	for _, st := range s.steps {
		var next []*node
		for _, c := range cur {
			for _, k := range c.kids {
				if st == "*" || k.name == st {
					next = append(next, k)
				}
			}
		}
		cur = next
	}
	return cur
}

// value returns the first reached node's key or text; ok is false when the
// selector reaches nothing.
func (s selector) value(n *node) (string, bool) {
	ns := s.nodes(n)
	if len(ns) == 0 {
		return "", false
	}
	if s.last == "#key" {
		return ns[0].name, true
	}
	return ns[0].text, true
}

func (s selector) String() string { return s.src }
