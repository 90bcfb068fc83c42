// Package version holds the answer of an etcd server's /version endpoint.
//
// It is a small wire type shared by the client and by anyone who reads
// /version directly, kept apart from the client so that it carries no client
// logic.
package version

// Versions is what GET /version answers: the version of the server that
// answered and the version the cluster as a whole runs at.
type Versions struct {
	// Server is the etcd server's own version, e.g. "3.5.35".
	Server string `json:"etcdserver"`
	// Cluster is the version the cluster runs at, e.g. "3.5.0"; early in a
	// cluster's life it can read "not_decided".
	Cluster string `json:"etcdcluster"`
}
