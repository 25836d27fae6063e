//! The route table: which pool serves a path, and whether the gateway checks the token.
//!
//! As in the original's APISIX (reference §3.4), routes are path prefixes and paths are
//! forwarded unchanged: `/<svc>/*` goes to the service whose routes all start with
//! `/<svc>`. `/realms/*` is the identity provider's (token endpoint, discovery, JWKS) and
//! is public, so clients can log in through the gateway.

use crate::config::PoolName;

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The pool that serves it.
    pub pool: PoolName,
    /// Whether a valid bearer token is required at the edge.
    pub authenticated: bool,
}

impl Route {
    /// The route's label in metrics and logs (`/inventory/*`).
    pub fn label(self) -> &'static str {
        match self.pool {
            PoolName::Account => "/account/*",
            PoolName::Inventory => "/inventory/*",
            PoolName::Order => "/order/*",
            PoolName::Payment => "/payment/*",
            PoolName::Identity => "/realms/*",
        }
    }
}

const TABLE: [(&str, PoolName, bool); 5] = [
    ("/account", PoolName::Account, true),
    ("/inventory", PoolName::Inventory, true),
    ("/order", PoolName::Order, true),
    ("/payment", PoolName::Payment, true),
    ("/realms", PoolName::Identity, false),
];

/// The route for `path`, or `None` (404). `/inventory` and `/inventory/...` match;
/// `/inventoryx` does not.
pub fn route(path: &str) -> Option<Route> {
    TABLE.iter().find_map(|(prefix, pool, authenticated)| {
        let rest = path.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(Route {
            pool: *pool,
            authenticated: *authenticated,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_prefixes_route_to_their_pool_and_need_a_token() {
        for (path, pool) in [
            ("/account/address", PoolName::Account),
            ("/inventory/product/7", PoolName::Inventory),
            ("/inventory", PoolName::Inventory),
            ("/order/", PoolName::Order),
            ("/payment/cart/clear", PoolName::Payment),
        ] {
            assert_eq!(
                route(path),
                Some(Route {
                    pool,
                    authenticated: true
                }),
                "{path}"
            );
        }
    }

    #[test]
    fn the_identity_provider_is_public() {
        assert_eq!(
            route("/realms/ironvessel/protocol/openid-connect/token"),
            Some(Route {
                pool: PoolName::Identity,
                authenticated: false
            })
        );
    }

    #[test]
    fn other_paths_have_no_route() {
        for path in [
            "/",
            "/inventoryx/product",
            "/accounts",
            "/health",
            "/admin/realms",
            "",
        ] {
            assert_eq!(route(path), None, "{path}");
        }
    }
}
