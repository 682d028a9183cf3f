// Package directory owns tenants, realms, identities and groups with their
// memberships: the types, the validation rules of the Beyond Identity API,
// and the Service that every interface (REST API, SCIM, console, CSV import)
// uses to change them, with one write path (write.go) that the CSV import
// also runs inside its own batched transactions.
//
// It must not import HTTP packages or storage engines; it describes the
// storage it needs as the Store interface, which internal/store implements.
package directory
