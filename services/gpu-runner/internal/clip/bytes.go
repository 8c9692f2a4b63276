package clip

// byteAlphabet maps every byte to a printable rune, as GPT-2 and CLIP's
// bytes_to_unicode do: the printable Latin-1 bytes ('!'..'~', '¡'..'¬',
// '®'..'ÿ') map to themselves, the other 68 bytes, in increasing order, to
// U+0100, U+0101, ... Vocab and merges files are written in this alphabet,
// so a space is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
var byteAlphabet = func() [256]rune {
	var t [256]rune
	printable := func(b int) bool {
		return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
	}
	next := rune(256)
	for b := range 256 {
		if printable(b) {
			t[b] = rune(b)
		} else {
			t[b] = next
			next++
		}
	}
	return t
}()

// ByteAlphabet returns the rune each byte is written as in vocab.json and
// merges.txt; index i holds byte i's rune.
func ByteAlphabet() [256]rune { return byteAlphabet }

// byteEncode writes the UTF-8 bytes of s in the byte alphabet, one rune per
// byte, so BPE can work on any text with a 256-symbol base vocabulary.
func byteEncode(s string) []string {
	out := make([]string, len(s))
	for i := range len(s) {
		out[i] = string(byteAlphabet[s[i]])
	}
	return out
}
