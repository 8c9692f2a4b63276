package clip

import (
	"regexp"
	"strings"
	"unicode"
)

// pretokenize is CLIP's pre-tokenization pattern: the two special tokens,
// English contractions, runs of letters, single digits, and runs of other
// non-space characters. Go's RE2 picks the leftmost alternative like
// Python's re, so the split is the same. Text is lowercased before, which
// replaces the original's re.IGNORECASE.
var pretokenize = regexp.MustCompile(
	`<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`)

// normalize cleans text the way Hugging Face's CLIPTokenizer does without
// ftfy installed (diffusers' setup): control characters are dropped, every
// run of whitespace becomes one space, the ends are trimmed, and the text is
// lowercased. ftfy's mojibake repair is not reproduced; it changes nothing in
// well-formed UTF-8.
func normalize(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	space := false
	for _, r := range text {
		switch {
		case isSpace(r):
			space = b.Len() > 0
			continue
		case r == 0 || r == unicode.ReplacementChar || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

// isSpace is Python's str.isspace, which also counts the ASCII information
// separators U+001C..U+001F that unicode.IsSpace does not.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || (0x1C <= r && r <= 0x1F)
}
