"""People: sign-in with OpenID Connect (identity), the user-office sync (usersync), roles, API
keys and the audit log (services). Reads the model and the data policy."""
