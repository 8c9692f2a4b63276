package clip

// endOfWord marks the last symbol of a word: CLIP's vocabulary tells
// "a" inside a word from the word "a" by this suffix ("a" vs "a</w>").
const endOfWord = "</w>"

// pair is two adjacent symbols that a merge joins.
type pair struct{ a, b string }

// bpe splits one pre-token, already in the byte alphabet, into vocabulary
// symbols: start from single bytes (the last carrying </w>), then apply the
// merge of lowest rank among adjacent pairs, all its occurrences left to
// right, until no adjacent pair has a merge. This is CLIPTokenizer.bpe.
func bpe(symbols []string, ranks map[pair]int) []string {
	if len(symbols) == 0 {
		return nil
	}
	word := make([]string, len(symbols))
	copy(word, symbols)
	word[len(word)-1] += endOfWord
	for len(word) > 1 {
		best, bestRank := pair{}, -1
		for i := 0; i+1 < len(word); i++ {
			p := pair{word[i], word[i+1]}
			if r, ok := ranks[p]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = p, r
			}
		}
		if bestRank < 0 {
			break
		}
		merged := make([]string, 0, len(word))
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == best.a && word[i+1] == best.b {
				merged = append(merged, best.a+best.b)
				i += 2
				continue
			}
			merged = append(merged, word[i])
			i++
		}
		word = merged
	}
	return word
}
