#!/usr/bin/env python3
"""Builds server/src/http/openapi.json: the public contract (shared/spec/search-api.yaml)
kept exactly as published, plus Boxoffice's other routes.

Run after changing a route: python3 tools/build_openapi.py ../shared/spec/search-api.yaml
"""
import json
import sys
import uuid

import yaml

contract = yaml.safe_load(open(sys.argv[1] if len(sys.argv) > 1 else "../shared/spec/search-api.yaml"))

envelope_error = {"$ref": "#/components/responses/Error"}


def ok(data_schema, description):
    return {
        "description": description,
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["data", "error"],
            "properties": {"data": data_schema, "error": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Error"}]}},
        }}},
    }


contract["info"]["description"] = (
    "Boxoffice serves the Fever Providers API's /search exactly as published, "
    "plus item details, health, and an admin API (bearer token)."
)
components = contract["components"]
components.setdefault("responses", {})["Error"] = {
    "description": "An error in the envelope",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["data", "error"],
        "properties": {"data": {"nullable": True, "type": "object"}, "error": {"$ref": "#/components/schemas/Error"}},
    }}},
}
components["securitySchemes"] = {"adminToken": {"type": "http", "scheme": "bearer"}}
components["schemas"]["Zone"] = {
    "type": "object",
    "required": ["zone_id", "name", "capacity", "price", "numbered"],
    "properties": {
        "zone_id": {"type": "string"}, "name": {"type": "string"},
        "capacity": {"type": "integer", "minimum": 0}, "price": {"type": "number"},
        "numbered": {"type": "boolean"},
    },
}
nullable_string = {"type": "string", "nullable": True}
components["schemas"]["EventDetails"] = {
    "type": "object",
    "required": ["id", "title", "provider", "base_event_id", "event_id", "sell_mode", "searchable",
                 "sold_out", "start_date", "starts_at", "ends_at", "zones", "first_seen", "last_seen", "last_changed"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "title": {"type": "string"},
        "provider": {"type": "string", "description": "The provider instance's name"},
        "base_event_id": {"type": "string"},
        "event_id": {"type": "string"},
        "sell_mode": {"type": "string", "enum": ["online", "offline"]},
        "searchable": {"type": "boolean", "description": "Served by /search: its base event was on sale online at some point"},
        "organizer_company_id": nullable_string,
        "sold_out": {"type": "boolean"},
        "start_date": {"type": "string", "format": "date"},
        "start_time": nullable_string,
        "end_date": {"type": "string", "format": "date", "nullable": True},
        "end_time": nullable_string,
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "sell_from": nullable_string,
        "sell_to": nullable_string,
        "min_price": {"type": "number", "nullable": True},
        "max_price": {"type": "number", "nullable": True},
        "zones": {"type": "array", "items": {"$ref": "#/components/schemas/Zone"}},
        "first_seen": {"type": "string", "format": "date-time"},
        "last_seen": {"type": "string", "format": "date-time"},
        "last_changed": {"type": "string", "format": "date-time"},
    },
}
components["schemas"]["SyncReport"] = {
    "type": "object",
    "required": ["run_id", "provider", "started_at", "finished_at", "status", "seen", "inserted",
                 "updated", "unchanged", "rejected", "rejections", "bytes"],
    "properties": {
        "run_id": {"type": "string", "format": "uuid"},
        "provider": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "enum": ["succeeded", "partial", "failed"]},
        "attempts": {"type": "integer"},
        "payload": {"type": "string"},
        "replayed_from": {"type": "string"},
        "seen": {"type": "integer"}, "inserted": {"type": "integer"}, "updated": {"type": "integer"},
        "unchanged": {"type": "integer"}, "rejected": {"type": "integer"},
        "rejections": {"type": "array", "items": {"type": "object", "required": ["record", "reason"], "properties": {
            "record": {"type": "string"}, "reason": {"type": "string"}}}},
        "unknown": {"type": "object", "additionalProperties": {"type": "integer"}},
        "bytes": {"type": "integer"},
        "error": nullable_string,
    },
}
components["schemas"]["ProviderStatus"] = {
    "type": "object",
    "required": ["name", "kind", "enabled", "interval", "running"],
    "properties": {
        "name": {"type": "string"}, "kind": {"type": "string"}, "enabled": {"type": "boolean"},
        "interval": {"type": "string", "example": "5m"}, "running": {"type": "boolean"},
        "circuit": {"type": "string", "enum": ["closed", "open", "half-open"]},
        "consecutive_failures": {"type": "integer"},
        "last_success": {"type": "string", "format": "date-time", "nullable": True},
        "last_report": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/SyncReport"}]},
    },
}

name_param = {"in": "path", "name": "name", "required": True, "schema": {"type": "string"},
              "description": "The provider instance's name"}
admin_errors = {"401": envelope_error, "403": envelope_error, "404": envelope_error}
paths = contract["paths"]
paths["/events/{id}"] = {"get": {
    "operationId": "getEvent", "summary": "One item with its details, searchable or not",
    "parameters": [{"in": "path", "name": "id", "required": True, "schema": {"type": "string", "format": "uuid"},
                    # Fever's session 291 of base event 291, for an instance named "fever": ids are
                    # UUIDv5, so this one is the same everywhere that instance name is used.
                    "example": str(uuid.uuid5(uuid.UUID("6b0f4f3e-2d1c-4a5b-9e8f-7a6b5c4d3e2f"), "fever\x1f291\x1f291"))}],
    "responses": {
        "200": ok({"type": "object", "required": ["event"], "properties": {"event": {"$ref": "#/components/schemas/EventDetails"}}}, "The item"),
        "400": envelope_error, "404": envelope_error, "500": envelope_error,
    },
}}
paths["/health"] = {"get": {
    "operationId": "health", "summary": "The process is up",
    "responses": {"200": ok({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}, "Up")},
}}
paths["/ready"] = {"get": {
    "operationId": "ready", "summary": "The store answers",
    "responses": {
        "200": ok({"type": "object", "required": ["status", "items", "data_version"], "properties": {
            "status": {"type": "string"}, "items": {"type": "integer"}, "data_version": {"type": "integer"}}}, "Ready"),
        "503": envelope_error,
    },
}}
paths["/status"] = {"get": {
    "operationId": "statusPage", "summary": "An operator's HTML page: each provider instance, its last run and the items served",
    "responses": {"200": {"description": "The status page", "content": {"text/html": {"schema": {"type": "string"}}}}},
}}
paths["/admin/providers"] = {"get": {
    "operationId": "listProviders", "summary": "Provider instances with their state",
    "security": [{"adminToken": []}],
    "responses": {
        "200": ok({"type": "object", "required": ["providers"], "properties": {
            "providers": {"type": "array", "items": {"$ref": "#/components/schemas/ProviderStatus"}}}}, "The instances"),
        "401": envelope_error, "403": envelope_error,
    },
}}
paths["/admin/providers/{name}/sync"] = {"post": {
    "operationId": "syncProvider", "summary": "Run a sync of the instance now; answers when it is done",
    "security": [{"adminToken": []}],
    "parameters": [name_param],
    "responses": {
        "200": ok({"type": "object", "required": ["report"], "properties": {"report": {"$ref": "#/components/schemas/SyncReport"}}}, "The sync succeeded"),
        "502": {"description": "The provider could not be fetched or parsed; nothing was stored. `data.report` holds the report.",
                "content": {"application/json": {"schema": {"type": "object", "required": ["data", "error"], "properties": {
                    "data": {"type": "object", "nullable": True, "properties": {"report": {"$ref": "#/components/schemas/SyncReport"}}},
                    "error": {"$ref": "#/components/schemas/Error"}}}}}},
        "409": envelope_error, **admin_errors,
    },
}}
paths["/admin/providers/{name}/runs"] = {"get": {
    "operationId": "listRuns", "summary": "The instance's latest run reports, newest first",
    "security": [{"adminToken": []}],
    "parameters": [name_param, {"in": "query", "name": "limit", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20}}],
    "responses": {
        "200": ok({"type": "object", "required": ["runs"], "properties": {
            "runs": {"type": "array", "items": {"$ref": "#/components/schemas/SyncReport"}}}}, "The runs"),
        "400": envelope_error, **admin_errors,
    },
}}

# Optional extensions of /search, documented beside the contract's parameters (which
# stay first and unchanged), and the statuses the service adds around it.
search = paths["/search"]["get"]
search["parameters"] += [
    {"in": "query", "name": "limit", "required": False,
     "description": "Extension: at most this many events; `data.next_cursor` then says where the next page starts",
     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"in": "query", "name": "cursor", "required": False,
     "description": "Extension: the `next_cursor` of the previous page", "schema": {"type": "string"}},
    {"in": "query", "name": "provider", "required": False,
     "description": "Extension: only events of this provider instance", "schema": {"type": "string"}},
]
search["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]["properties"]["next_cursor"] = {
    "type": "string", "nullable": True, "description": "Extension: present when `limit` is given; null on the last page"}
search["responses"]["304"] = {"description": "Not modified (the `If-None-Match` ETag matches)"}
for status in ("414", "429", "503"):
    search["responses"][status] = envelope_error
for path, item in paths.items():
    for operation in item.values():
        operation["responses"].setdefault("414", envelope_error)
        operation["responses"].setdefault("429", envelope_error)

paths["/metrics"] = {"get": {
    "operationId": "metrics", "summary": "Prometheus metrics: requests per route and status, sync runs and records per provider",
    "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
}}
paths["/admin/providers/{name}"] = {"patch": {
    "operationId": "patchProvider", "summary": "Switch the instance's scheduled syncs on or off, for every instance and across restarts",
    "security": [{"adminToken": []}],
    "parameters": [name_param],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["enabled"], "additionalProperties": False,
        "properties": {"enabled": {"type": "boolean"}}}}}},
    "responses": {
        "200": ok({"type": "object", "required": ["provider"], "properties": {"provider": {"$ref": "#/components/schemas/ProviderStatus"}}}, "The instance's new state"),
        "400": envelope_error, **admin_errors,
    },
}}
paths["/admin/providers/{name}/rejects"] = {"get": {
    "operationId": "listRejects", "summary": "The quarantine: rejected records with their reasons and raw elements, newest first",
    "security": [{"adminToken": []}],
    "parameters": [name_param, {"in": "query", "name": "limit", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}],
    "responses": {
        "200": ok({"type": "object", "required": ["rejects"], "properties": {"rejects": {"type": "array", "items": {
            "type": "object", "required": ["run_id", "provider", "rejected_at", "record", "reason"],
            "properties": {"run_id": {"type": "string", "format": "uuid"}, "provider": {"type": "string"},
                           "rejected_at": {"type": "string", "format": "date-time"}, "record": {"type": "string"},
                           "reason": {"type": "string"}, "raw": {"type": "string", "nullable": True}}}}}}, "The rejects"),
        "400": envelope_error, **admin_errors,
    },
}}
for path in ("/metrics", "/admin/providers/{name}", "/admin/providers/{name}/rejects"):
    for operation in paths[path].values():
        operation["responses"].setdefault("414", envelope_error)
        operation["responses"].setdefault("429", envelope_error)

json.dump(contract, open("server/src/http/openapi.json", "w"), indent=2)
print("wrote server/src/http/openapi.json")
