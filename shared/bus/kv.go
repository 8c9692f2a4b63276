package bus

import "github.com/nats-io/nats.go"

// The KV layout's operation header, as nats.go's KeyValue writes it: a
// message on a key's subject with KV-Operation: DEL is the key's delete
// marker.
const (
	HeaderKVOperation = "KV-Operation"
	KVOperationDelete = "DEL"
)

// RecordDeleteMarker is the delete marker of a job record, carrying body
// (the jobstore's tombstone), as KeyValue.Delete would write it.
func RecordDeleteMarker(jobID string, body []byte) *nats.Msg {
	msg := &nats.Msg{Subject: RecordSubject(jobID), Header: nats.Header{}, Data: body}
	msg.Header.Set(HeaderKVOperation, KVOperationDelete)
	return msg
}
