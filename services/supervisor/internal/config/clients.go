package config

import (
	"fmt"
	"strings"

	"cyberimage/shared/config"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/quota"
)

// Clients are the settings of named clients over HTTP: their tokens, and
// the quotas shown beside their use.
type Clients struct {
	// Tokens are the per-client submit tokens, by client name: a token
	// named alice submits as the client alice, the identity (and quota)
	// of the NATS creds client.alice.creds.
	Tokens map[string]string
	// Quotas are the limits ingest enforces (CYBERIMAGE_QUOTAS, which the
	// operator gives ingest and the supervisor alike): the supervisor only
	// shows them beside each client's use.
	Quotas quota.Table
}

// clientSettings are the settings as written, for check to parse.
type clientSettings struct {
	tokens string
	quotas *config.Parsed[quota.Table]
}

func (c *Clients) bind(l *config.Loader) *clientSettings {
	var raw clientSettings
	l.Secret(&raw.tokens, "client-tokens", "per-client HTTP submit tokens, space- or comma-separated name=TOKEN: a token named alice submits as the client alice (its quota, as NATS creds client.alice.creds); each differs from every other token")
	raw.quotas = quota.Bind(l, "the quotas ingest enforces, shown by GET /v1/clients and the console: give it the value ingest has ('*=queued/per_minute client=queued/per_minute ...', 0: none)")
	return &raw
}

// check parses the settings; others are the read, submit and admin
// tokens, none of which a client token may equal (it would take their
// grants, or they its identity).
func (c *Clients) check(l *config.Loader, raw *clientSettings, others ...string) {
	raw.quotas.Check(l)
	c.Quotas = raw.quotas.Value
	var err error
	c.Tokens, err = parseClientTokens(raw.tokens, others)
	l.Check(err == nil, "CYBERIMAGE_CLIENT_TOKENS: %v", err)
}

// parseClientTokens reads "alice=TOKEN bob=TOKEN". Errors never quote a
// token: they end up in logs.
func parseClientTokens(s string, others []string) (map[string]string, error) {
	tokens := map[string]string{}
	seen := map[string]string{}
	for _, o := range others {
		if o != "" {
			seen[o] = "another CYBERIMAGE_*_TOKEN"
		}
	}
	for _, entry := range quota.Fields(s) {
		name, token, ok := strings.Cut(entry, "=")
		if !ok || token == "" {
			return nil, fmt.Errorf("an entry is not name=TOKEN")
		}
		if err := natsauth.CheckName(name); err != nil {
			return nil, err
		}
		if _, dup := tokens[name]; dup {
			return nil, fmt.Errorf("client %s given twice", name)
		}
		if with, dup := seen[token]; dup {
			return nil, fmt.Errorf("the token of client %s is also %s's", name, with)
		}
		tokens[name], seen[token] = token, name
	}
	return tokens, nil
}
