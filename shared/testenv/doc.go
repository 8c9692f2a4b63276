// Package testenv starts the real servers integration and end-to-end tests
// run against: an in-process NATS server with JetStream, and a MinIO server
// process on a free loopback port. Each is torn down by the test that
// started it.
package testenv
