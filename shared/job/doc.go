// Package job is the contract every service agrees on: the request users
// publish, its validation and normalisation, the job record kept in KV and
// every change of its status (moves.go, transitions.go). It imports
// neither NATS nor S3 so that it can be tested, fuzzed and reused without
// any server; the messages that carry jobs over the bus live in bus.
package job
