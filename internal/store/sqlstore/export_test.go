package sqlstore

// Statements that tests outside the package explain.
var (
	GetSession               = getSession
	UseSession               = useSession
	RecordSessionApplication = recordApplications("($1, $2, CAST($3 AS BIGINT))")
	RenewSession             = renewSession
)
