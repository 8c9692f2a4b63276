package bus

// Header names on dead-lettered messages (stream CYBERIMAGE_DLQ): the job,
// why it failed for good, how many deliveries it had, and the stream
// sequence of its work message.
const (
	HeaderJobID      = "Cyberimage-Job-Id"
	HeaderReason     = "Cyberimage-Reason"
	HeaderDeliveries = "Cyberimage-Deliveries"
	HeaderStreamSeq  = "Cyberimage-Stream-Seq"
)
