package httpapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// duplicateKey finds a key that repeats within one JSON object of data and
// returns its path ("version.a" for key "a" of an object under "version";
// arrays add nothing to a path), or "", false if no object repeats a key.
// encoding/json lets the last of repeated keys win, so without this check
// {"amountRequested":0,"amountRequested":5} would be an order for 5 lb that
// a proxy or a log reader sees as 0.
//
// Keys repeat when encoding/json would fill the same field from them:
// equal once unescaped and case-folded as it folds names, so
// "amountRequested" and "AMOUNTREQUESTED" repeat each other too. When an
// object repeats several keys, the one repeated first in the text is named.
//
// data must be valid JSON (decodeJSON decodes it first); on anything else
// the answer is meaningless but the function neither panics nor loops.
// Ordinary bodies cost one pass and no allocation: keys and their folded
// names live in fixed arrays on the stack and spill to the heap only for
// large or deeply nested bodies, and each object's keys are sorted when it
// closes, so even a 64 KiB object of distinct keys costs O(n log n).
func duplicateKey(data []byte) (string, bool) {
	var (
		levelBuf [jsonLevelsOnStack]jsonLevel
		keyBuf   [jsonKeysOnStack]jsonKey
		nameBuf  [jsonNameBytesOnStack]byte
	)
	levels, keys, names := levelBuf[:0], keyBuf[:0], nameBuf[:0]
	wantKey := false
	var lastKey span // the latest key: the owner of an object or array that follows
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			lv := jsonLevel{object: data[i] == '{', keys: len(keys), names: len(names), owner: span{-1, -1}}
			if n := len(levels); n > 0 && levels[n-1].object {
				lv.owner = lastKey
			}
			levels = append(levels, lv)
			wantKey = lv.object
		case '}', ']':
			if len(levels) == 0 {
				return "", false
			}
			lv := levels[len(levels)-1]
			if lv.object {
				if dup, ok := repeatedKey(keys[lv.keys:], names); ok {
					return keyPath(data, levels, dup), true
				}
			}
			levels, keys, names = levels[:len(levels)-1], keys[:lv.keys], names[:lv.names]
			wantKey = false
		case ',':
			wantKey = len(levels) > 0 && levels[len(levels)-1].object
		case ':':
			wantKey = false
		case '"':
			end := stringEnd(data, i)
			if wantKey {
				start := len(names)
				names = appendFoldedKey(names, data[i:end])
				lastKey = span{i, end}
				keys = append(keys, jsonKey{name: span{start, len(names)}, raw: lastKey})
			}
			i = end - 1
		}
	}
	return "", false
}

// What duplicateKey holds on the stack before it spills to the heap: the
// order, receipt and adjustment bodies fit many times over.
const (
	jsonLevelsOnStack    = 8
	jsonKeysOnStack      = 16
	jsonNameBytesOnStack = 256
)

// span is a half-open range of byte offsets, [start, end).
type span [2]int

// jsonKey is one key of an open object: its folded name (in duplicateKey's
// names buffer) and where it is written in the data, quotes included.
type jsonKey struct{ name, raw span }

// jsonLevel is an open object or array: where its keys start in the key and
// name buffers, and the key whose value it is (-1s at the top or in an
// array).
type jsonLevel struct {
	object      bool
	keys, names int
	owner       span
}

// stringEnd returns the index just past the closing quote of the string
// that opens at data[i], or len(data) if it never closes.
func stringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// appendFoldedKey appends the name a quoted JSON key stands for, folded as
// encoding/json folds field names (appendFoldedName in its fold.go): ASCII
// letters upper-cased, any other rune replaced by the smallest rune of its
// case-folding orbit, invalid UTF-8 as U+FFFD.
func appendFoldedKey(dst, quoted []byte) []byte {
	name := quoted
	if len(name) >= 2 {
		name = name[1 : len(name)-1]
	}
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if json.Unmarshal(quoted, &s) == nil { // rare: only keys written with escapes allocate
			name = []byte(s)
		}
	}
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		dst = utf8.AppendRune(dst, smallestFold(r))
		i += n
	}
	return dst
}

// smallestFold is the smallest rune of r's case-folding orbit.
func smallestFold(r rune) rune {
	for {
		next := unicode.SimpleFold(r)
		if next <= r {
			return next
		}
		r = next
	}
}

// repeatedKey sorts one object's keys by folded name, then by position, and
// returns the second occurrence that comes first in the text.
func repeatedKey(keys []jsonKey, names []byte) (jsonKey, bool) {
	if len(keys) < 2 {
		return jsonKey{}, false
	}
	name := func(k jsonKey) []byte { return names[k.name[0]:k.name[1]] }
	slices.SortFunc(keys, func(a, b jsonKey) int {
		if c := bytes.Compare(name(a), name(b)); c != 0 {
			return c
		}
		return a.raw[0] - b.raw[0]
	})
	var dup jsonKey
	found := false
	for i := 1; i < len(keys); i++ {
		if bytes.Equal(name(keys[i-1]), name(keys[i])) && (!found || keys[i].raw[0] < dup.raw[0]) {
			dup, found = keys[i], true
		}
	}
	return dup, found
}

// keyPath names a repeated key for a problem's errors: the keys that lead to
// its object, then the key itself as the client wrote it (unescaped).
func keyPath(data []byte, levels []jsonLevel, dup jsonKey) string {
	var parts []string
	for _, lv := range levels {
		if lv.owner[0] >= 0 {
			parts = append(parts, unquoteKey(data[lv.owner[0]:lv.owner[1]]))
		}
	}
	return strings.Join(append(parts, unquoteKey(data[dup.raw[0]:dup.raw[1]])), ".")
}

func unquoteKey(quoted []byte) string {
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return string(quoted)
	}
	return s
}
