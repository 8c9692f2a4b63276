package clip

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The golden values below were worked out by hand on testdata/, a
// 33-token vocabulary with 13 merges. Merge ranks (line order of
// merges.txt after the #version line):
//
//	0 "a t</w>"   1 "c a"    2 "ca t</w>"  3 "c at</w>"  4 "h e</w>"
//	5 "t he</w>"  6 "p h"    7 "o t"       8 "ot o</w>"  9 "ph oto</w>"
//	10 "o f</w>"  11 "Ã ©</w>"  12 "' s</w>"
//
// BPE starts from one symbol per byte, the last with </w>, and repeatedly
// merges the adjacent pair of lowest rank.

func loadTestdata(t *testing.T) *Tokenizer {
	t.Helper()
	tok, err := Load("testdata")
	require.NoError(t, err)
	return tok
}

func TestByteAlphabet(t *testing.T) {
	a := ByteAlphabet()
	// Printable bytes stand for themselves.
	require.Equal(t, 'a', a['a'])
	require.Equal(t, '!', a['!'])
	require.Equal(t, 'Ã', a[0xC3])
	// The 68 others take U+0100.. in byte order: bytes 0x00..0x20 are the
	// first 33 (space, the 33rd, is U+0120 'Ġ', newline U+010A 'Ċ'), then
	// 0x7F..0xA0 (0x7F is U+0121, 0x81 two further U+0123), then 0xAD U+0143.
	require.Equal(t, 'Ġ', a[' '])
	require.Equal(t, 'Ċ', a['\n'])
	require.Equal(t, rune(0x121), a[0x7F])
	require.Equal(t, rune(0x123), a[0x81])
	require.Equal(t, rune(0x143), a[0xAD])
	seen := map[rune]bool{}
	for _, r := range a {
		require.False(t, seen[r], "rune %U used twice", r)
		seen[r] = true
	}
}

func TestTokensGolden(t *testing.T) {
	tok := loadTestdata(t)
	cases := []struct {
		text string
		want []string
		ids  []int
		why  string
	}{
		{
			text: "a photo of a cat",
			want: []string{"a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"},
			ids:  []int{3, 25, 26, 3, 19},
			why: `"a" is one byte, so just "a</w>" (3). "photo": p h o t o</w>; ` +
				`lowest pair (p,h)=6 -> ph o t o</w>; (o,t)=7 -> ph ot o</w>; (ot,o</w>)=8 -> ph oto</w>; ` +
				`(ph,oto</w>)=9 -> photo</w> (25). "of": (o,f</w>)=10 -> of</w> (26). ` +
				`"cat": c a t</w>; (a,t</w>)=0 beats (c,a)=1 -> c at</w>; (c,at</w>)=3 -> cat</w> (19); ` +
				`rank 2 "ca t</w>" never applies because "ca" never forms.`,
		},
		{
			text: "cats",
			want: []string{"ca", "t", "s</w>"},
			ids:  []int{18, 5, 13},
			why: `c a t s</w>: only (c,a)=1 has a merge -> ca t s</w>; (ca,t) and (t,s</w>) have none ` +
				`(rank 2 is "ca t</w>", not "ca t"), so 18 5 13.`,
		},
		{
			text: "  The \t CAT's\nphoto!! ",
			want: []string{"the</w>", "cat</w>", "'s</w>", "photo</w>", "!", "!</w>"},
			ids:  []int{21, 19, 16, 25, 0, 1},
			why: `normalized to "the cat's photo!!"; the pattern splits the, cat, 's, photo, !!. ` +
				`"the": t h e</w>; (h,e</w>)=4 -> t he</w>; (t,he</w>)=5 -> the</w> (21). ` +
				`"'s": (',s</w>)=12 -> 's</w> (16). "!!": ! !</w> with no merge -> 0 1.`,
		},
		{
			text: "12",
			want: []string{"1</w>", "2</w>"},
			ids:  []int{14, 15},
			why:  `digits are matched one at a time ([\p{N}]), so each is a word: 1</w> (14), 2</w> (15).`,
		},
		{
			text: "É",
			want: []string{"Ã©</w>"},
			ids:  []int{29},
			why: `lowercased to é = bytes C3 A9, both printable Latin-1 so written Ã ©</w>; ` +
				`(Ã,©</w>)=11 -> Ã©</w> (29).`,
		},
		{
			text: "x",
			want: []string{"x</w>"},
			ids:  []int{31},
			why:  `"x</w>" is not in the vocabulary: the unknown token is <|endoftext|> (31).`,
		},
		{
			text: "a <|endoftext|>a",
			want: []string{"a</w>", "<|endoftext|>", "a</w>"},
			ids:  []int{3, 31, 3},
			why:  `a special token in the text is matched whole by the pattern and keeps its id (31).`,
		},
		{
			text: " \t\n",
			want: nil,
			ids:  []int{},
			why:  `whitespace only normalizes to "", no tokens.`,
		},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			require.Equal(t, c.want, tok.Tokens(c.text), c.why)
			require.Equal(t, c.ids, tok.IDs(c.text), c.why)
		})
	}
}

func TestEncodePadsWithEndToken(t *testing.T) {
	tok := loadTestdata(t)
	ids := tok.Encode("a cat")
	require.Len(t, ids, 77)
	// <|startoftext|>=30, a</w>=3, cat</w>=19, <|endoftext|>=31, then 73 pads
	// of <|endoftext|> (SD 1.x's pad token).
	require.Equal(t, []int{30, 3, 19, 31}, ids[:4])
	for i := 4; i < 77; i++ {
		require.Equal(t, 31, ids[i], "pad at %d", i)
	}
	empty := tok.Encode("")
	require.Equal(t, []int{30, 31, 31}, empty[:3], "the empty prompt (unconditional) is start, end, padding")
}

func TestEncodeTruncatesKeepingEndToken(t *testing.T) {
	vocab, merges := testdataVocab(t)
	tok, err := New(vocab, merges, Options{MaxLength: 8})
	require.NoError(t, err)
	// Ten "a" words (3 each) leave room for 8-2=6 of them.
	require.Equal(t, []int{30, 3, 3, 3, 3, 3, 3, 31}, tok.Encode("a a a a a a a a a a"))
	// Exactly 6 fit without truncation; 5 get one pad.
	require.Equal(t, []int{30, 3, 3, 3, 3, 3, 3, 31}, tok.Encode("a a a a a a"))
	require.Equal(t, []int{30, 3, 3, 3, 3, 3, 31, 31}, tok.Encode("a a a a a"))
}

func TestPadTokenFromConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{VocabFile, MergesFile} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	// SD 2.x writes the pad token as an AddedToken object and pads with "!"
	// (id 0 here, as in CLIP's vocabulary).
	cfg := `{"pad_token": {"content": "!", "lstrip": false}, "model_max_length": 6}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644))
	tok, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, 6, tok.MaxLength())
	require.Equal(t, []int{30, 19, 31, 0, 0, 0}, tok.Encode("cat"))

	// A string pad token and the "no limit" sentinel length.
	cfg = `{"pad_token": "<|endoftext|>", "model_max_length": 1e30}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644))
	tok, err = Load(dir)
	require.NoError(t, err)
	require.Equal(t, DefaultMaxLength, tok.MaxLength())
}

func TestMissingSpecialTokens(t *testing.T) {
	_, err := New(map[string]int{"a</w>": 0}, nil, Options{})
	require.ErrorIs(t, err, ErrMissingToken)
	require.ErrorContains(t, err, StartOfText)
	require.ErrorContains(t, err, EndOfText)
}

func TestBadMergesLine(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", VocabFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, VocabFile), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, MergesFile), []byte("#version: 0.2\na b c\n"), 0o644))
	_, err = Load(dir)
	require.ErrorContains(t, err, "line 2")
}

func TestConcurrentEncode(t *testing.T) {
	tok := loadTestdata(t)
	want := tok.Encode("a photo of the cat's")
	done := make(chan []int)
	for range 8 {
		go func() { done <- tok.Encode("a photo of the cat's") }()
	}
	for range 8 {
		require.Equal(t, want, <-done)
	}
}

func testdataVocab(t *testing.T) (map[string]int, [][2]string) {
	t.Helper()
	var vocab map[string]int
	require.NoError(t, readJSON(filepath.Join("testdata", VocabFile), &vocab))
	merges, err := readMerges(filepath.Join("testdata", MergesFile))
	require.NoError(t, err)
	return vocab, merges
}
