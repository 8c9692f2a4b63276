package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
)

// purgeKeys are the arguments purge takes (POST /v1/jobs/purge).
var purgeKeys = []string{"status", "older_than"}

// purgeJobs removes ended jobs' records by status and age
// (POST /v1/jobs/purge).
func purgeJobs(c *client, args []string, out io.Writer) error {
	q, err := queryArgs("purge", args, purgeKeys)
	if err != nil {
		return err
	}
	return c.show(out, http.MethodPost, withQuery("/v1/jobs/purge", q), http.StatusOK)
}

// watch prints progress events as they come (GET /v1/events), one line
// each, until the stream ends or the command is stopped.
func watch(c *client, args []string, out io.Writer) error {
	path := "/v1/events"
	if len(args) == 1 {
		path += "?job_id=" + url.QueryEscape(args[0])
	} else if len(args) > 1 {
		return fmt.Errorf("%w: watch takes at most one job id", errUsage)
	}
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	// The stream lasts as long as the user wants it: no client timeout.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return apiError(resp.StatusCode, body)
	}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			fmt.Fprintln(out, data)
		}
	}
	return lines.Err()
}

// version is the CLI's module version and the commit it was built from.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "cyberimage (unknown build)"
	}
	v := "cyberimage " + info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	return v + " " + info.GoVersion
}

// fleetAction changes a model's queue or a runner (POST
// /v1/models/{model}/pause and /resume, /v1/runners/{runner}/drain and
// /undrain) and prints the answer.
func fleetAction(c *client, cmd, name string, out io.Writer) error {
	path := "/v1/runners/" + url.PathEscape(name) + "/" + cmd
	if cmd == "pause" || cmd == "resume" {
		path = "/v1/models/" + url.PathEscape(name) + "/" + cmd
	}
	return c.show(out, http.MethodPost, path, http.StatusOK, http.StatusAccepted)
}

// completionBash completes commands, job statuses and flags.
const completionBash = `# bash completion for cyberimage: source <(cyberimage completion bash)
_cyberimage() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=""
  local w
  for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case $w in -*) ;; *) cmd=$w; break ;; esac
  done
  case $cmd in
    "") COMPREPLY=($(compgen -W "submit status clients jobs job retry cancel purge reload pause resume drain undrain watch queue completion --supervisor --admin-token-file --version" -- "$cur")) ;;
    submit) COMPREPLY=($(compgen -W "--prompt --negative-prompt --model --width --height --steps --guidance --seed --num-images --priority --deadline --expires-in --callback-url --request-id --client --nats-url --creds --tls-ca --wait --out --timeout" -- "$cur")) ;;
    jobs) COMPREPLY=($(compgen -W "status=queued status=processing status=completed status=failed status=rejected status=cancelled model= client= limit= cursor=" -- "$cur")) ;;
    purge) COMPREPLY=($(compgen -W "status=completed status=failed status=rejected status=cancelled older_than=" -- "$cur")) ;;
    retry) COMPREPLY=($(compgen -W "--all-failed" -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "bash" -- "$cur")) ;;
  esac
}
complete -o nospace -F _cyberimage cyberimage
`

func completion(args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "bash" {
		return fmt.Errorf("%w: completion takes one argument: bash", errUsage)
	}
	_, err := io.WriteString(out, completionBash)
	return err
}
