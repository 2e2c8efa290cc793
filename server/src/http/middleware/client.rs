//! Who the client is: the socket's peer, or, behind a trusted proxy, the address the
//! proxy saw (`X-Forwarded-For`). The rate limit and the admin throttle key on it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts `networks`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    /// Whether `peer` is a trusted proxy (which carries many clients).
    pub fn trusts_peer(&self, peer: IpAddr) -> bool {
        !self.0.is_empty() && self.trusts(peer)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client of a request from `peer`: `peer` itself unless it is a trusted proxy;
    /// then the right-most address of `X-Forwarded-For` that is not a trusted proxy
    /// (addresses left of it were written by the client and prove nothing). A trusted
    /// peer without a usable header is the client.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.0.is_empty() || !self.trusts(peer) {
            return canonical(peer);
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(address) if self.trusts(address) => continue,
                Some(address) => return canonical(address),
                // A hop that is not an address: the chain is broken here; the last
                // trusted hop is as far as we can see.
                None => break,
            }
        }
        canonical(peer)
    }

    /// The client of a request, from its `ConnectInfo` (set for every connection by
    /// the server); `None` when the request did not come through a socket (tests).
    pub fn client_of(&self, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(self.client(peer.ip(), headers))
    }
}

/// `::ffff:1.2.3.4` is `1.2.3.4`: one client, one key.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The key of a client in per-client limits: its IPv4 address, or its IPv6 /64 (one
/// subscriber's network: anyone holding one has 2^64 addresses to rotate through).
pub fn bucket(client: IpAddr) -> IpAddr {
    match canonical(client) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// One `X-Forwarded-For` element: an address, possibly `[v6]:port` or `v4:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address);
    }
    hop.parse::<SocketAddr>().ok().map(|socket| socket.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().filter_map(|n| n.parse().ok()).collect())
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert("x-forwarded-for", value);
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = proxies(&[]);
        assert_eq!(none.client(ip("10.0.0.5"), &forwarded("1.2.3.4")), ip("10.0.0.5"));
        let some = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            some.client(ip("192.0.2.1"), &forwarded("1.2.3.4")),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.7/32"]);
        // The client forged the first element; the proxy appended the real peer.
        let headers = forwarded("6.6.6.6, 203.0.113.9, 10.1.2.3");
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("203.0.113.9"));
        // Two headers count as one list.
        let mut two = forwarded("6.6.6.6");
        two.append("x-forwarded-for", HeaderValue::from_static("198.51.100.4"));
        assert_eq!(trusted.client(ip("192.0.2.7"), &two), ip("198.51.100.4"));
        // No header, or only trusted hops: the proxy itself.
        assert_eq!(trusted.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &forwarded("10.9.9.9")),
            ip("10.0.0.1")
        );
        // Ports and brackets are tolerated; garbage stops the walk.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &forwarded("[2001:db8::1]:443")),
            ip("2001:db8::1")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &forwarded("1.1.1.1, junk")),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_ipv4_ones_by_address() {
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            bucket(ip("2001:db8:1:2::7"))
        );
        assert_ne!(bucket(ip("2001:db8:1:3::1")), bucket(ip("2001:db8:1:2::1")));
        assert_eq!(bucket(ip("192.0.2.9")), ip("192.0.2.9"));
        assert_eq!(bucket(ip("::ffff:192.0.2.9")), ip("192.0.2.9"));
        assert!(proxies(&["10.0.0.0/8"]).trusts_peer(ip("10.2.3.4")));
        assert!(!proxies(&[]).trusts_peer(ip("10.2.3.4")));
    }

    #[test]
    fn ipv4_mapped_peers_are_their_ipv4_address() {
        let trusted = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &forwarded("203.0.113.1")),
            ip("203.0.113.1")
        );
        assert_eq!(
            proxies(&[]).client(ip("::ffff:1.2.3.4"), &HeaderMap::new()),
            ip("1.2.3.4")
        );
    }
}
