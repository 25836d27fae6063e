//! What the gateway changes in headers on the way through.
//!
//! Upstream: hop-by-hop headers (RFC 9110 §7.6.1, plus any named in `Connection`) belong
//! to one connection and are dropped; so are the browser headers the original's APISIX
//! removed (`cookie`, `sec-fetch-*`, `sec-ch-ua*`, `accept-language`,
//! `upgrade-insecure-requests`), which the services never read and which would only
//! leak into their logs. `x-forwarded-for` gains the client's address and
//! `x-forwarded-proto` says how the client came in. Everything else, `authorization`,
//! `host`, `x-request-id` and `traceparent` included, passes unchanged.
//!
//! Downstream: only hop-by-hop headers are dropped; `x-instance`, `x-cache` and the rest
//! of the upstream's answer reach the client as sent.

use std::{fmt::Write as _, net::IpAddr};

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// `x-forwarded-for`.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `x-forwarded-proto`.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Hop-by-hop headers, plus `expect`: the gateway has read the body already, so an
/// upstream `100 Continue` would mean nothing. Names, not strings: removing by a
/// string parses it first, twice per request for each of these.
const HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
];

/// Browser headers removed before a request reaches a service (APISIX's `proxy-rewrite`).
const BROWSER: [&str; 3] = ["cookie", "accept-language", "upgrade-insecure-requests"];
const BROWSER_PREFIXES: [&str; 2] = ["sec-fetch-", "sec-ch-ua"];

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none of them, and a look at each name is cheaper than ten
    // removals, each of which hashes its name. A `Connection` header is one of them.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

fn is_browser_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    BROWSER.contains(&name)
        || BROWSER_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// The headers to send upstream for a request that arrived with `headers` from `peer`
/// (changed in place: the request's own map, not a copy).
pub fn upstream_request(
    mut headers: HeaderMap,
    peer: Option<IpAddr>,
    trust_forwarded: bool,
) -> HeaderMap {
    remove_hop_by_hop(&mut headers);
    let browser: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_browser_header(name))
        .cloned()
        .collect();
    for name in browser {
        headers.remove(name);
    }

    if let Some(peer) = peer {
        let mut chain = String::with_capacity(48);
        for part in headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            chain.push_str(part);
            chain.push_str(", ");
        }
        let _ = write!(chain, "{peer}");
        if let Ok(value) = HeaderValue::from_str(&chain) {
            headers.insert(X_FORWARDED_FOR, value);
        }
    }
    let proto_from_client = trust_forwarded
        && headers
            .get(X_FORWARDED_PROTO)
            .is_some_and(|value| value == "http" || value == "https");
    if !proto_from_client {
        // The gateway itself speaks plain HTTP; TLS, where there is any, ends before it.
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    headers
}

/// Drops hop-by-hop headers from an upstream answer.
pub fn downstream_response(headers: &mut HeaderMap) {
    remove_hop_by_hop(headers);
}

/// The client's address for rate limiting: the connection's peer, or, behind a trusted
/// load balancer, the last `x-forwarded-for` entry (the one that balancer appended).
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trust_forwarded: bool,
) -> Option<IpAddr> {
    if trust_forwarded {
        let forwarded = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)));

    #[test]
    fn browser_and_hop_by_hop_headers_are_stripped_and_the_rest_passes() {
        let incoming = headers(&[
            ("cookie", "session=secret"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-site", "same-origin"),
            ("sec-ch-ua", "\"Chromium\";v=\"140\""),
            ("sec-ch-ua-mobile", "?0"),
            ("sec-ch-ua-platform", "\"Linux\""),
            ("accept-language", "en-GB"),
            ("upgrade-insecure-requests", "1"),
            ("connection", "keep-alive, x-private-hop"),
            ("x-private-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("expect", "100-continue"),
            ("proxy-authorization", "Basic abc"),
            ("authorization", "Bearer t"),
            ("host", "shop.example"),
            ("x-request-id", "r-1"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("content-type", "application/json"),
            ("accept", "application/json"),
            (
                "sec-websocket-key",
                "kept: not a browser-fingerprint header",
            ),
        ]);
        let out = upstream_request(incoming.clone(), PEER, false);
        assert_eq!(
            names(&out),
            vec![
                "accept",
                "authorization",
                "content-type",
                "host",
                "sec-websocket-key",
                "traceparent",
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-request-id",
            ]
        );
        assert_eq!(out["authorization"], "Bearer t");
        assert_eq!(out["x-request-id"], "r-1");
    }

    #[test]
    fn the_client_address_is_appended_to_x_forwarded_for() {
        let out = upstream_request(headers(&[]), PEER, false);
        assert_eq!(out[X_FORWARDED_FOR], "10.0.0.7");
        assert_eq!(out[X_FORWARDED_PROTO], "http");

        let incoming = headers(&[
            ("x-forwarded-for", "203.0.113.9, 198.51.100.2"),
            ("x-forwarded-proto", "https"),
        ]);
        let out = upstream_request(incoming.clone(), PEER, false);
        assert_eq!(out[X_FORWARDED_FOR], "203.0.113.9, 198.51.100.2, 10.0.0.7");
        assert_eq!(
            out[X_FORWARDED_PROTO], "http",
            "an untrusted client cannot claim https"
        );
        let trusted = upstream_request(incoming, PEER, true);
        assert_eq!(trusted[X_FORWARDED_PROTO], "https");
    }

    #[test]
    fn the_client_ip_comes_from_x_forwarded_for_only_when_trusted() {
        let incoming = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.2")]);
        assert_eq!(client_ip(&incoming, PEER, false), PEER);
        assert_eq!(
            client_ip(&incoming, PEER, true),
            Some("198.51.100.2".parse().unwrap())
        );
        assert_eq!(
            client_ip(&headers(&[("x-forwarded-for", "junk")]), PEER, true),
            PEER
        );
    }

    #[test]
    fn upstream_answers_keep_their_headers_except_hop_by_hop_ones() {
        let mut answer = headers(&[
            ("x-instance", "inventory-2"),
            ("x-cache", "HIT"),
            ("x-request-id", "r-1"),
            ("set-cookie", "kept=1"),
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
        ]);
        downstream_response(&mut answer);
        assert_eq!(
            names(&answer),
            vec!["set-cookie", "x-cache", "x-instance", "x-request-id"]
        );
    }
}
