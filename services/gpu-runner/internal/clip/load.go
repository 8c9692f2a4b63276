package clip

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files of a Hugging Face CLIP tokenizer folder.
const (
	VocabFile         = "vocab.json"
	MergesFile        = "merges.txt"
	ConfigFile        = "tokenizer_config.json"
	SpecialTokensFile = "special_tokens_map.json"
)

// Load reads a tokenizer folder: vocab.json and merges.txt, and the pad
// token and model_max_length from tokenizer_config.json or
// special_tokens_map.json when present (SD 2.x pads with "!", SD 1.x with
// <|endoftext|>).
func Load(dir string) (*Tokenizer, error) {
	var vocab map[string]int
	if err := readJSON(filepath.Join(dir, VocabFile), &vocab); err != nil {
		return nil, err
	}
	merges, err := readMerges(filepath.Join(dir, MergesFile))
	if err != nil {
		return nil, err
	}
	opts, err := readOptions(dir)
	if err != nil {
		return nil, err
	}
	t, err := New(vocab, merges, opts)
	if err != nil {
		return nil, fmt.Errorf("clip tokenizer %s: %w", dir, err)
	}
	return t, nil
}

// readMerges reads merges.txt: an optional "#version" line, then one
// "left right" pair a line in rank order.
func readMerges(path string) ([][2]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clip merges: %w", err)
	}
	var merges [][2]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || (n == 1 && strings.HasPrefix(line, "#version")) {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("clip merges %s line %d: want two symbols, got %q", path, n, line)
		}
		merges = append(merges, [2]string{a, b})
		if len(merges) == maxMerges {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("clip merges %s: %w", path, err)
	}
	return merges, nil
}

// readOptions takes the pad token and length from the optional config
// files; tokenizer_config.json wins over special_tokens_map.json.
func readOptions(dir string) (Options, error) {
	var opts Options
	for _, name := range []string{SpecialTokensFile, ConfigFile} {
		var cfg struct {
			PadToken       json.RawMessage `json:"pad_token"`
			ModelMaxLength float64         `json:"model_max_length"`
		}
		err := readJSON(filepath.Join(dir, name), &cfg)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return opts, err
		}
		if pad, err := tokenText(cfg.PadToken); err != nil {
			return opts, fmt.Errorf("clip %s: pad_token: %w", name, err)
		} else if pad != "" {
			opts.PadToken = pad
		}
		// Tokenizers without a limit store a huge sentinel (1e30); only a
		// real context length is taken.
		if cfg.ModelMaxLength >= 2 && cfg.ModelMaxLength <= 4096 {
			opts.MaxLength = int(cfg.ModelMaxLength)
		}
	}
	return opts, nil
}

// tokenText reads a special token written either as a string or as an
// AddedToken object {"content": "..."}.
func tokenText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	return obj.Content, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("clip: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("clip %s: %w", path, err)
	}
	return nil
}
