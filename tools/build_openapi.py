#!/usr/bin/env python3
"""Builds server/src/http/openapi.json: the public contract (shared/spec/search-api.yaml)
kept exactly as published, plus Boxoffice's other routes.

Run after changing a route: python3 tools/build_openapi.py ../shared/spec/search-api.yaml
"""
import json
import sys

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
        "status": {"type": "string", "enum": ["succeeded", "failed"]},
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
        "last_report": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/SyncReport"}]},
    },
}

name_param = {"in": "path", "name": "name", "required": True, "schema": {"type": "string"},
              "description": "The provider instance's name"}
admin_errors = {"401": envelope_error, "403": envelope_error, "404": envelope_error}
paths = contract["paths"]
paths["/events/{id}"] = {"get": {
    "operationId": "getEvent", "summary": "One item with its details, searchable or not",
    "parameters": [{"in": "path", "name": "id", "required": True, "schema": {"type": "string", "format": "uuid"}}],
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

json.dump(contract, open("server/src/http/openapi.json", "w"), indent=2)
print("wrote server/src/http/openapi.json")
