package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDuplicateKey(t *testing.T) {
	tests := []struct {
		name, json string
		repeat     bool
		path       string
	}{
		{"none", `{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, false, ""},
		{"not an object", `[1,"a","a"]`, false, ""},
		{"top level", `{"a":1,"b":2,"a":3}`, true, "a"},
		{"values are not keys", `{"a":"b","b":"a"}`, false, ""},
		{"strings hide structure", `{"a":"{\"a\":1,\"a\":2}","b":"}"}`, false, ""},
		{"case folds as encoding/json matches fields", `{"amountRequested":1,"AmountRequested":2}`, true, "AmountRequested"},
		{"Kelvin sign folds to k", `{"kg":1,"\u212ag":2}`, true, "\u212ag"},
		{"long s folds to s", `{"sku":1,"\u017fku":2}`, true, "\u017fku"},
		{"escapes are decoded", `{"ab":1,"\u0061\u0062":2}`, true, "ab"},
		{"escaped quote in a key", `{"a\"b":1,"a\u0022b":2}`, true, `a"b`},
		{"invalid UTF-8 reads as U+FFFD", "{\"\xff\":1,\"\xfe\":2}", true, "\ufffd"},
		{"nested", `{"v":{"x":{"y":1,"y":2}}}`, true, "v.x.y"},
		{"nested in arrays", `{"v":[[{"y":1,"y":2}]]}`, true, "v.y"},
		{"the first repeat in the text is named", `{"b":1,"a":1,"a":2,"b":2}`, true, "a"},
		{"whitespace", " {\n\t\"a\" : 1 ,\r\n \"a\" : 2 } ", true, "a"},
		{"the empty key", `{"":1,"":2}`, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, repeat := duplicateKey([]byte(tc.json))
			assert.Equal(t, tc.repeat, repeat)
			assert.Equal(t, tc.path, path)
		})
	}
	t.Run("a large object costs n log n, not n squared", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"v":{`)
		for i := range 8000 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"k`)
			b.WriteString(strings.Repeat("x", i%7))
			b.WriteString(string(rune('a' + i%26)))
			b.WriteString(`":0`)
		}
		b.WriteString(`}}`)
		// Only a property check: a quadratic scan would still pass, but
		// this is the shape that would make it slow.
		_, ok := duplicateKey([]byte(b.String()))
		assert.True(t, ok)
	})
}

// FuzzDuplicateKey checks duplicateKey against a slow reference built on
// encoding/json's tokenizer and strings.EqualFold: for every valid JSON
// value, it finds a repeat exactly when there is one, and names a key that
// does repeat. Invalid input must merely not panic.
func FuzzDuplicateKey(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":1,"B":2}}`, `[{"k":1},{"k":1}]`, `{"\u212a":1,"k":2}`,
		`{"a":"\"","a\\":1}`, `{"x":[1,{"y":{}}],"y":null}`, "{\"\xff\":1,\"\xfe\":2}", `{"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path, ok := duplicateKey(data)
		if !json.Valid(data) {
			return
		}
		repeats := referenceRepeats(t, data)
		if ok != (len(repeats) > 0) {
			t.Fatalf("%q: found a repeat: %v (%q); reference: %v", data, ok, path, repeats)
		}
		if ok && !repeats[path] {
			t.Fatalf("%q: named %q; the reference's repeats: %v", data, path, repeats)
		}
	})
}

// referenceRepeats lists the path of every repeated key in data.
func referenceRepeats(t *testing.T, data []byte) map[string]bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers beyond float64 are valid JSON too
	repeats := map[string]bool{}
	var walk func(path []string)
	walk = func(path []string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		switch tok {
		case json.Delim('{'):
			var seen []string
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					t.Fatalf("reference: %v", err)
				}
				key := k.(string)
				for _, s := range seen {
					if strings.EqualFold(s, key) {
						repeats[strings.Join(append(path[:len(path):len(path)], key), ".")] = true
					}
				}
				seen = append(seen, key)
				walk(append(path[:len(path):len(path)], key))
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				walk(path)
			}
			_, _ = dec.Token()
		}
	}
	walk(nil)
	return repeats
}

func BenchmarkDuplicateKey(b *testing.B) {
	body := []byte(`{"id":"order-000042","customer":"Funky Customer #1","sku":"pork","amountRequested":1500,"minShelfLifeDays":3}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := duplicateKey(body); ok {
			b.Fatal("no key repeats")
		}
	}
}
