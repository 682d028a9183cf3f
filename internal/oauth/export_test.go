package oauth

// The lifetimes of sign-ins and codes, for the tests that move the clock past them.
const (
	AuthRequestTTL = authRequestTTL
	CodeTTL        = codeTTL
)
