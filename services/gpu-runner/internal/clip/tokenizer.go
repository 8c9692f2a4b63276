// Package clip is the CLIP BPE tokenizer of Stable Diffusion's text encoder,
// in pure Go: it reads the vocab.json and merges.txt of a Hugging Face
// tokenizer folder and turns a prompt into the fixed-length id sequence the
// text encoder takes, as diffusers' CLIPTokenizer call
// tokenizer(prompt, padding="max_length", max_length=77, truncation=True)
// does.
package clip

import (
	"errors"
	"fmt"
)

// Special tokens, looked up by text because their ids differ between
// vocabularies (49406 and 49407 in CLIP's).
const (
	StartOfText = "<|startoftext|>"
	EndOfText   = "<|endoftext|>"
)

// DefaultMaxLength is CLIP's context length: the text encoder's position
// embedding has 77 rows.
const DefaultMaxLength = 77

// maxMerges is how many merges CLIP uses: the 49152-entry vocabulary minus
// 256 bytes, 256 bytes with </w> and 2 special tokens. Hugging Face's
// CLIPTokenizer reads no more than this from merges.txt.
const maxMerges = 49152 - 256 - 2

// ErrMissingToken marks a vocabulary without a token the tokenizer needs.
var ErrMissingToken = errors.New("clip: token missing from vocabulary")

// Options adjusts a Tokenizer; the zero value is SD 1.x's setup.
type Options struct {
	// PadToken fills the sequence after the end token. Empty means
	// <|endoftext|> (SD 1.x); SD 2.x tokenizers pad with "!".
	PadToken string
	// MaxLength is the sequence length; 0 means DefaultMaxLength.
	MaxLength int
}

// Tokenizer encodes text to CLIP token ids. It is immutable and safe for
// concurrent use.
type Tokenizer struct {
	vocab          map[string]int
	ranks          map[pair]int
	bos, eos, pad  int
	maxLength      int
	specialByToken map[string]int
}

// New builds a tokenizer from a vocabulary (token → id, in the byte
// alphabet) and merges in rank order (first = applied first).
func New(vocab map[string]int, merges [][2]string, opts Options) (*Tokenizer, error) {
	t := &Tokenizer{vocab: vocab, ranks: make(map[pair]int, len(merges)), maxLength: opts.MaxLength}
	if t.maxLength == 0 {
		t.maxLength = DefaultMaxLength
	}
	if t.maxLength < 2 {
		return nil, fmt.Errorf("clip: max length %d leaves no room for the start and end tokens", t.maxLength)
	}
	for i, m := range merges {
		p := pair{m[0], m[1]}
		if _, dup := t.ranks[p]; !dup { // the first occurrence holds the rank, as in Python's dict(zip(...))
			t.ranks[p] = i
		}
	}
	padToken := opts.PadToken
	if padToken == "" {
		padToken = EndOfText
	}
	var err error
	lookup := func(tok string) int {
		id, ok := vocab[tok]
		if !ok {
			err = errors.Join(err, fmt.Errorf("%w: %q", ErrMissingToken, tok))
		}
		return id
	}
	t.bos, t.eos, t.pad = lookup(StartOfText), lookup(EndOfText), lookup(padToken)
	if err != nil {
		return nil, err
	}
	t.specialByToken = map[string]int{StartOfText: t.bos, EndOfText: t.eos}
	return t, nil
}

// MaxLength is the length of every Encode result.
func (t *Tokenizer) MaxLength() int { return t.maxLength }

// Tokens splits text into vocabulary symbols, without start, end or padding.
// Special token text in the prompt stays one symbol, as in Hugging Face.
func (t *Tokenizer) Tokens(text string) []string {
	var out []string
	for _, word := range pretokenize.FindAllString(normalize(text), -1) {
		if _, ok := t.specialByToken[word]; ok {
			out = append(out, word)
			continue
		}
		out = append(out, bpe(byteEncode(word), t.ranks)...)
	}
	return out
}

// IDs returns the ids of Tokens(text). A symbol missing from the vocabulary
// (possible only with an incomplete vocabulary) becomes <|endoftext|>,
// CLIP's unknown token.
func (t *Tokenizer) IDs(text string) []int {
	toks := t.Tokens(text)
	ids := make([]int, len(toks))
	for i, tok := range toks {
		id, ok := t.vocab[tok]
		if !ok {
			id = t.eos
		}
		ids[i] = id
	}
	return ids
}

// Encode returns exactly MaxLength ids: start token, the text's ids cut to
// MaxLength-2, end token, then padding. Truncating before adding the end
// token keeps it in every sequence, which the text encoder's pooling relies
// on.
func (t *Tokenizer) Encode(text string) []int {
	ids := t.IDs(text)
	ids = ids[:min(len(ids), t.maxLength-2)]
	out := make([]int, 0, t.maxLength)
	out = append(out, t.bos)
	out = append(out, ids...)
	out = append(out, t.eos)
	for len(out) < t.maxLength {
		out = append(out, t.pad)
	}
	return out
}
