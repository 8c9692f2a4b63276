package natsauth

import (
	"bytes"
	"encoding/json"
)

// PermissionsDocument is every role's allow list as indented JSON: the
// committed infra/nats/permissions.json, which a test keeps equal to it, so
// what operators read is what the code issues.
func PermissionsDocument() []byte {
	doc := map[Role]Allow{}
	for _, r := range Roles() {
		// A role's list for an identity named "<name>", as issued for
		// every name.
		doc[r] = Permissions(r, "<name>")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // ">" reads as ">", not \u003e
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
	return buf.Bytes()
}
