package objectstore

import "time"

// One request to S3 may take tryBase plus one second per tryRate bytes it
// carries before its caller gives up on it and tries again (on another
// node, under a fresh key for a write): far more than a healthy store
// needs (milliseconds for an image on loopback, well under a second on a
// LAN), far less than what waiting on a hung node or on the lock of an
// object a dead node was writing costs (minutes).
const (
	tryBase = 5 * time.Second
	tryRate = 4 << 20 // bytes per second: a slow link still makes it
)

// TryTimeout bounds one request moving size bytes (0 for a stat).
func TryTimeout(size int) time.Duration {
	return tryBase + time.Duration(size)*time.Second/tryRate
}
