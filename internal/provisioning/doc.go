// Package provisioning owns bulk provisioning from CSV files: the file
// format (a header naming identity fields, one identity per row), import
// jobs that validate and apply a file in the background (dry run, per-row
// results, an error report, resumable after a restart, one at a time per
// realm), the Worker that runs them, and the export of a realm's
// identities in the same format. The CLI, the API and the console share it.
// It also reads the credentials files of `latchkey import --credentials`
// (CSV or JSON passkeys by username), which the CLI imports through the
// API's credentials:import, that is passkey.ImportCredentials.
//
// Rows are decided and stored with internal/directory's write path
// (NewIdentity, EditIdentity, NewGroup, StoreChanges), never rules of its
// own; only the batching is the import's.
// It must not import HTTP packages or storage engines; it describes the
// storage it needs as Tx and Store, which internal/store implements.
package provisioning
