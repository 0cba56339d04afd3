/* The route table: every path allot serves, who may call it, and whether it
 * reads a JSON body.  openapi/openapi.yaml must agree (tests/unit/test_openapi.c). */
#include "allot/api.h"
#include "allot/console.h"
#include "allot/http.h"

const struct http_route api_routes[] = {
    {"GET", "/health", api_health, ROLE_PUBLIC, false},
    {"GET", "/ready", api_ready, ROLE_PUBLIC, false},
    {"GET", "/metrics", api_metrics, ROLE_ANY, false},

    {"POST", "/apikeys", api_apikeys_create, ROLE_ADMIN, true},
    {"GET", "/apikeys", api_apikeys_list, ROLE_ADMIN, false},
    {"GET", "/apikeys/{id}", api_apikeys_get, ROLE_ADMIN, false},
    {"DELETE", "/apikeys/{id}", api_apikeys_delete, ROLE_ADMIN, false},

    {"POST", "/users", api_users_create, ROLE_ADMIN, true},
    {"GET", "/users", api_users_list, ROLE_READ | ROLE_PROXY, false},
    {"GET", "/users/{id}", api_users_get, ROLE_READ | ROLE_PROXY, false},
    {"PATCH", "/users/{id}", api_users_update, ROLE_ADMIN, true},
    {"DELETE", "/users/{id}", api_users_delete, ROLE_ADMIN, false},

    {"GET", "/license", api_license_get, ROLE_READ, false},
    {"PUT", "/license", api_license_put, ROLE_ADMIN, true},
    {"PUT", "/license/definition", api_license_definition, ROLE_ADMIN, true},
    {"POST", "/license/actions/sync", api_license_sync, ROLE_ADMIN, false},

    {"POST", "/allocations", api_allocations_create, ROLE_ADMIN, true},
    {"GET", "/allocations", api_allocations_list, ROLE_READ, false},
    {"GET", "/allocations/{id}", api_allocations_get, ROLE_READ, false},
    {"DELETE", "/allocations/{id}", api_allocations_delete, ROLE_ADMIN, false},
    {"POST", "/allocations/{id}/actions/reinstate", api_allocations_reinstate, ROLE_ADMIN, false},
    {"POST", "/allocations/rules", api_rules_create, ROLE_ADMIN, true},
    {"GET", "/allocations/rules", api_rules_list, ROLE_READ, false},
    {"GET", "/allocations/rules/{id}", api_rules_get, ROLE_READ, false},
    {"PATCH", "/allocations/rules/{id}", api_rules_update, ROLE_ADMIN, true},
    {"DELETE", "/allocations/rules/{id}", api_rules_delete, ROLE_ADMIN, false},

    {"POST", "/sessions", api_sessions_start, ROLE_ADMIN | ROLE_PROXY, true},
    {"GET", "/sessions", api_sessions_list, ROLE_ANY, false},
    {"GET", "/sessions/events", api_sessions_events, ROLE_ANY, false},
    {"GET", "/sessions/{id}", api_sessions_get, ROLE_ANY, false},
    {"DELETE", "/sessions/{id}", api_sessions_end, ROLE_ADMIN | ROLE_PROXY, false},
    {"POST", "/sessions/{id}/heartbeat", api_sessions_heartbeat, ROLE_ADMIN | ROLE_PROXY, false},

    {"GET", "/reports/usage", api_reports_usage, ROLE_READ, false},

    {"POST", "/webhooks", api_webhooks_create, ROLE_ADMIN, true},
    {"GET", "/webhooks", api_webhooks_list, ROLE_READ, false},
    {"GET", "/webhooks/{id}", api_webhooks_get, ROLE_READ, false},
    {"DELETE", "/webhooks/{id}", api_webhooks_delete, ROLE_ADMIN, false},
    {"POST", "/webhooks/{id}/actions/test", api_webhooks_test, ROLE_ADMIN, false},
    {"GET", "/webhooks/{id}/deliveries", api_webhooks_deliveries, ROLE_READ, false},

    /* The release of idle allocations (issue 10). */
    {"GET", "/allocations/idle-release", api_idle_release_list, ROLE_READ, false},
    {"GET", "/allocations/idle-release/{type}", api_idle_release_get, ROLE_READ, false},
    {"PUT", "/allocations/idle-release/{type}", api_idle_release_put, ROLE_ADMIN, true},
    {"GET", "/allocations/idle-release/{type}/preview", api_idle_release_preview, ROLE_READ, false},

    /* SCIM 2.0 provisioning: the scim role's only paths (and admin's). */
    {"GET", "/scim/v2/Users", api_scim_users_list, ROLE_SCIM | ROLE_ADMIN, false},
    {"POST", "/scim/v2/Users", api_scim_users_create, ROLE_SCIM | ROLE_ADMIN, true},
    {"GET", "/scim/v2/Users/{id}", api_scim_users_get, ROLE_SCIM | ROLE_ADMIN, false},
    {"PUT", "/scim/v2/Users/{id}", api_scim_users_replace, ROLE_SCIM | ROLE_ADMIN, true},
    {"PATCH", "/scim/v2/Users/{id}", api_scim_users_patch, ROLE_SCIM | ROLE_ADMIN, true},
    {"DELETE", "/scim/v2/Users/{id}", api_scim_users_delete, ROLE_SCIM | ROLE_ADMIN, false},
    {"GET", "/scim/v2/Groups", api_scim_groups_list, ROLE_SCIM | ROLE_ADMIN, false},
    {"POST", "/scim/v2/Groups", api_scim_groups_create, ROLE_SCIM | ROLE_ADMIN, true},
    {"GET", "/scim/v2/Groups/{id}", api_scim_groups_get, ROLE_SCIM | ROLE_ADMIN, false},
    {"PUT", "/scim/v2/Groups/{id}", api_scim_groups_replace, ROLE_SCIM | ROLE_ADMIN, true},
    {"PATCH", "/scim/v2/Groups/{id}", api_scim_groups_patch, ROLE_SCIM | ROLE_ADMIN, true},
    {"DELETE", "/scim/v2/Groups/{id}", api_scim_groups_delete, ROLE_SCIM | ROLE_ADMIN, false},
    {"GET", "/scim/v2/ServiceProviderConfig", api_scim_service_provider_config,
     ROLE_SCIM | ROLE_ADMIN, false},
    {"GET", "/scim/v2/ResourceTypes", api_scim_resource_types, ROLE_SCIM | ROLE_ADMIN, false},
    {"GET", "/scim/v2/ResourceTypes/{id}", api_scim_resource_type, ROLE_SCIM | ROLE_ADMIN, false},
    {"GET", "/scim/v2/Schemas", api_scim_schemas, ROLE_SCIM | ROLE_ADMIN, false},
    {"GET", "/scim/v2/Schemas/{id}", api_scim_schema, ROLE_SCIM | ROLE_ADMIN, false},

    /* The admin console: its assets need no key (it signs in with one). */
    {"GET", "/console", api_console, ROLE_PUBLIC, false},
    {"GET", "/console/{path*}", api_console, ROLE_PUBLIC, false},
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
