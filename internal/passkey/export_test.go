package passkey

// BatchLease is how long a node holds a batch, for the tests that move the clock past it.
const BatchLease = batchLease
