/* The route table: every path allot serves, who may call it, and whether it
 * reads a JSON body.  openapi/openapi.yaml must agree (tests/unit/test_openapi.c). */
#include "allot/api.h"
#include "allot/http.h"

const struct http_route http_routes[] = {
    {"GET", "/health", api_health, ROLE_PUBLIC, false},
    {"GET", "/ready", api_ready, ROLE_PUBLIC, false},
    {"GET", "/metrics", api_metrics, ROLE_ANY, false},

    {"POST", "/apikeys", api_apikeys_create, ROLE_ADMIN, true},
    {"GET", "/apikeys", api_apikeys_list, ROLE_ADMIN, false},
    {"DELETE", "/apikeys/{id}", api_apikeys_delete, ROLE_ADMIN, false},

    {"POST", "/users", api_users_create, ROLE_ADMIN, true},
    {"GET", "/users", api_users_list, ROLE_READ | ROLE_PROXY, false},
    {"GET", "/users/{id}", api_users_get, ROLE_READ | ROLE_PROXY, false},
    {"PATCH", "/users/{id}", api_users_update, ROLE_ADMIN, true},
    {"DELETE", "/users/{id}", api_users_delete, ROLE_ADMIN, false},
};

const size_t http_routes_count = sizeof http_routes / sizeof http_routes[0];
