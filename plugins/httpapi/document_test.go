package httpapi_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/httpapi"
)

func TestSelectors(t *testing.T) {
	tests := []struct {
		name, format, body, sel string
		want                    []string
		err                     string
	}{
		{"json map keys", "json", `{"success_request":{"info":{"106":"380989361131","107":"380989361132"}}}`, "success_request.info.*.#key", []string{"106", "107"}, ""},
		{"json map values", "json", `{"success_request":{"info":{"106":"380989361131"}}}`, "success_request.info.*", []string{"380989361131"}, ""},
		{"json numbers keep their spelling", "json", `{"a":{"money":8111.1700,"n":106}}`, "a.*", []string{"8111.1700", "106"}, ""},
		{"json array flattens", "json", `{"info":["test1","test2"]}`, "info", []string{"test1", "test2"}, ""},
		{"json array of objects", "json", `{"info":[{"money":"1.5"},{"currency":"UAH"}]}`, "info.currency", []string{"UAH"}, ""},
		{"json top-level array", "json", `[{"id":"a"},{"id":"b"}]`, "*.id", []string{"a", "b"}, ""},
		{"json with BOM", "json", "\ufeff{\"a\":\"b\"}", "a", []string{"b"}, ""},
		{"json missing path", "json", `{"a":{"b":"c"}}`, "a.x", nil, ""},
		{"json invalid", "json", `{"a":`, "a", nil, "invalid JSON"},
		{"json trailing data", "json", `{"a":1} {"b":2}`, "a", nil, "after the document"},
		{"json doc example that is not JSON", "json", `{"success_request":{"info":["money": "8111.1700"]}}`, "a", nil, "invalid JSON"},
		{"xml attributes and text", "xml", `<?xml version="1.0" encoding="UTF-8"?><response><info><sms id="106">ENROUTE</sms><sms id="107"> DELIVRD </sms></info></response>`, "response.info.sms.@id", []string{"106", "107"}, ""},
		{"xml element text", "xml", `<response><info><sms id="106">ENROUTE</sms><sms id="107"> DELIVRD </sms></info></response>`, "response.info.sms", []string{"ENROUTE", "DELIVRD"}, ""},
		{"xml entities", "xml", `<r><m>a &amp; b &lt;c&gt;</m></r>`, "r.m", []string{"a & b <c>"}, ""},
		{"xml with BOM", "xml", "\ufeff<r><m>x</m></r>", "r.m", []string{"x"}, ""},
		{"xml element names", "xml", `<r><a>1</a><b>2</b></r>`, "r.*.#key", []string{"a", "b"}, ""},
		{"xml mismatched tags", "xml", `<r><a>1</b></r>`, "r", nil, "invalid XML"},
		{"xml two roots", "xml", `<a/><b/>`, "a", nil, "more than one root"},
		{"xml other charset", "xml", `<?xml version="1.0" encoding="windows-1251"?><r/>`, "r", nil, "only UTF-8"},
		{"empty answer", "xml", "  ", "r", nil, "empty"},
		{"bad selector", "json", `{}`, "a..b", nil, "empty step"},
		{"pseudo step not last", "json", `{}`, "#key.a", nil, "last step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := httpapi.ParseAndSelect(tt.format, tt.body, tt.sel)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
