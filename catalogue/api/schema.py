"""The OpenAPI schema's error answers, added to every operation (a drf-spectacular postprocessing
hook): each is JSON {"detail": "...", "errors": {field: reason}} ("errors" on a 400 only)."""

ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, in a sentence."},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "By field: the reason, a list of reasons, or the errors of the field's items "
            "(by index or name). `body` when the body itself cannot be read.",
        },
    },
    "required": ["detail"],
}
INVALID = {**ERROR, "required": ["detail", "errors"]}

# status: (schema, description, for which operations)
ANSWERS = {
    "400": (INVALID, "Invalid parameters or body: every bad field, with the reason.", "parameters"),
    "401": (ERROR, "Unknown, expired or revoked API key or token, or none where one is needed.", "all"),
    "403": (ERROR, "Not allowed to the caller (or a session request without its CSRF token).", "all"),
    "404": (ERROR, "No such object, or hidden from the caller; or a page past the last.", "all"),
    "413": (ERROR, "The body is larger than the route's limit (INGESTION_MAX_BODY_MB for ingestion).", "body"),
    "415": (ERROR, "A body in a media type the operation does not take.", "body"),
    "429": (ERROR, "Too many failed API keys from this address: wait for Retry-After seconds.", "all"),
    "503": (ERROR, "The database is unavailable for a moment: retry after Retry-After seconds.", "all"),
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {}).update({"Error": ERROR, "ValidationError": INVALID})
    for path in result.get("paths", {}).values():
        for operation in path.values():
            has_body = "requestBody" in operation
            has_parameters = has_body or any(p.get("in") == "query" for p in operation.get("parameters", []))
            for status, (schema, description, scope) in ANSWERS.items():
                wanted = {"all": True, "parameters": has_parameters, "body": has_body}[scope]
                if wanted and status not in operation["responses"]:
                    name = "ValidationError" if schema is INVALID else "Error"
                    operation["responses"][status] = {
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                        "description": description,
                    }
    return result
