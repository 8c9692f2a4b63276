// Package job is the contract every service agrees on: the request users
// publish, its validation and normalisation, the job record kept in KV and
// the work message runners consume. It imports neither NATS nor S3 so that it
// can be tested, fuzzed and reused without any server.
package job
