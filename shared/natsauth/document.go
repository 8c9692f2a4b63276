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
		doc[r] = Permissions(r)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // ">" reads as ">", not \u003e
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
	return buf.Bytes()
}
