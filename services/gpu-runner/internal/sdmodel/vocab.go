package sdmodel

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"cyberimage/services/gpu-runner/internal/clip"
)

// words give the tiny vocabulary its merges: each is merged left to right,
// one new symbol per merge, the way BPE training would join a frequent
// word. Any text still tokenizes: every byte, with and without </w>, is in
// the vocabulary.
var words = []string{
	"a", "an", "the", "of", "in", "on", "at", "and", "with", "by",
	"photo", "painting", "portrait", "drawing", "render", "art",
	"cat", "dog", "bird", "fish", "koi", "fox", "owl", "horse",
	"city", "street", "forest", "mountain", "river", "lake", "pond", "sea", "sky",
	"sunset", "dusk", "night", "morning", "rain", "snow", "fog",
	"red", "blue", "green", "gold", "neon", "dark", "bright",
	"castle", "tower", "garden", "flower", "tree", "moon", "star",
	"cyberpunk", "detailed", "beautiful", "lighting", "style",
}

// vocab is a CLIP-layout vocabulary: the 256 byte symbols, the same with
// </w>, one symbol per merge, then <|startoftext|> and <|endoftext|>, the
// order of CLIP's own 49408 entries.
type vocab struct {
	tokens []string // by id
	merges [][2]string
}

func buildVocab() vocab {
	var v vocab
	seen := map[string]bool{}
	add := func(tok string) {
		if !seen[tok] {
			seen[tok] = true
			v.tokens = append(v.tokens, tok)
		}
	}
	// CLIP lists the byte symbols in bytes_to_unicode's order: the bytes
	// that stand for themselves first ("!" is id 0), then the remapped ones.
	alphabet := clip.ByteAlphabet()
	var bytesInOrder []rune
	for pass := range 2 {
		for b, r := range alphabet {
			if (r == rune(b)) == (pass == 0) {
				bytesInOrder = append(bytesInOrder, r)
			}
		}
	}
	for _, r := range bytesInOrder {
		add(string(r))
	}
	for _, r := range bytesInOrder {
		add(string(r) + "</w>")
	}
	merged := map[[2]string]bool{}
	for _, w := range words {
		syms := make([]string, len(w))
		for i := range len(w) {
			syms[i] = string(alphabet[w[i]])
		}
		syms[len(syms)-1] += "</w>"
		cur := syms[0]
		for _, next := range syms[1:] {
			m := [2]string{cur, next}
			if !merged[m] {
				merged[m] = true
				v.merges = append(v.merges, m)
			}
			cur += next
			add(cur)
		}
	}
	add(clip.StartOfText)
	add(clip.EndOfText)
	return v
}

// vocabJSON writes token → id one entry a line in id order, as
// vocab.json files list them.
func (v vocab) vocabJSON() []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for id, tok := range v.tokens {
		var key bytes.Buffer
		enc := json.NewEncoder(&key)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(tok) // a string always encodes
		b.WriteString("  ")
		b.WriteString(strings.TrimSuffix(key.String(), "\n"))
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(id))
		if id < len(v.tokens)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func (v vocab) mergesTxt() []byte {
	var b bytes.Buffer
	b.WriteString("#version: 0.2\n")
	for _, m := range v.merges {
		b.WriteString(m[0] + " " + m[1] + "\n")
	}
	return b.Bytes()
}
