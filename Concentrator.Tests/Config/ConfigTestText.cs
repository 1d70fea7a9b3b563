using Concentrator.Tests.Support;

namespace Concentrator.Tests.Config;

/// <summary>Same text as Concentrator/Config/example.yaml (a test keeps them identical).</summary>
internal static class ConfigTestText
{
    public const string Example = """
        # Concentrator example configuration: swanctl.conf names in YAML.
        # Durations: 30s, 90m, 4h, 2d or bare seconds. Sizes: 500k, 100M, 1G (1024-based).
        # Booleans: yes/no/true/false. Lists: YAML sequences or comma-separated strings.

        listen:
          addresses: [0.0.0.0, "::"]
          ike_port: 500
          natt_port: 4500

        http:
          listen: "127.0.0.1:9400"   # /healthz, /readyz, /metrics; the admin API answers loopback clients only

        tunnel:
          type: tun              # tun: route-based ESP on a TUN device; none: IKE only (testing)
          device: ipsec0
          mtu: 1400
          workers: 0             # packet workers, 0 = one per core
          install_routes: yes    # route each remote_ts via the device, in charon.routing_table (never the main table)
          plain_esp: yes         # also ESP as IP protocol 50 when no NAT is detected
          gro: yes               # coalesce decrypted TCP segments into GSO super-packets on the TUN
          tso: yes               # read TCP super-packets from the TUN (TSO) and split them before sealing
          udp_gso: yes           # send runs of equal-length ESP-in-UDP datagrams to one peer as one UDP GSO send

        pools:                   # virtual IP pools (swanctl pools), leased in IKE_AUTH to peers that ask (CFG_REQUEST)
          rw-pool:
            addrs: 10.30.0.0/24  # a subnet (its network and broadcast addresses are not leased) or a range 10.30.0.10-10.30.0.99
            dns: [10.10.0.53, 10.10.0.54]   # INTERNAL_IP4_DNS (an IPv6 server: INTERNAL_IP6_DNS)
            nbns: 10.10.0.55     # INTERNAL_IP4_NBNS (WINS)
            subnet: [10.10.0.0/16]          # INTERNAL_IP4_SUBNET: the networks behind the gateway
            25: corp.example.net # a numbered attribute (swanctl's form): 25 = INTERNAL_DNS_DOMAIN, sent to peers that ask (RFC 8598)
          rw-pool6:
            addrs: "fd00:30::/120"
            dns: "fd00:10::53"
          # A lease is the peer identity's: the same user gets the same address back, another only when the pool has no
          # never-leased address left and 5 minutes after its last SA ended. Each pool's addresses are routed into the TUN
          # (tunnel.install_routes). split_include, split_exclude (Cisco Unity, IKEv1), dhcp, netmask, server, p_cscf: not
          # supported (an error at load). Our own initiator asks for an address with a connection's vips: [0.0.0.0] and uses
          # it as its side of children whose local_ts is dynamic (a branch gateway behind a hub).

        charon:                  # daemon-wide settings, named as in strongswan.conf's charon section
          retransmit_timeout: 4s # first IKE retransmission; then x retransmit_base, retransmit_tries times
          retransmit_base: 1.8
          retransmit_tries: 5    # about 165 s in all; DPD declares a peer dead when they run out
          cookie_threshold: 10   # half-open IKE SAs from which IKE_SA_INIT needs a COOKIE (0: never)
          cookie_threshold_ip: 3 # ... or this many from its source address (0: never per address)
          init_limit_half_open: 5000  # half-open IKE SAs from which new IKE_SA_INIT is dropped (0: unlimited)
          block_threshold: 5      # half-open IKE SAs per source address, with and without a returned COOKIE each (0: unlimited)
          half_open_timeout: 30s  # a responder IKE SA not established by then is removed
          keep_alive: 20s  # NAT-T keepalive interval of an IKE SA behind a NAT; 0 sends none
          init_limit_job_load: 1000   # new IKE_SA_INIT requests that may wait for processing (0: unlimited)
          init_limit_rate: 0      # new responder IKE SAs (DH computations) per second (0: unlimited; Concentrator's key)
          auth_failed_threshold: 5    # AUTHENTICATION_FAILED from one source within auth_failed_backoff that block it (0: never)
          auth_failed_backoff: 60s    # ... for this long (Concentrator's keys)
          # Resource bounds: a hit is refused, counted in concentrator_limit_hits_total{limit} and logged once per 10 s.
          max_packet: 10000      # largest IKE message accepted, bytes (strongSwan's default)
          max_payloads: 64       # payloads per IKE message chain (outer, or inside SK)
          ikesa_limit: 100000    # IKE SAs in total; new IKE_SA_INIT dropped beyond (0: unlimited)
          ikesa_limit_per_peer: 1000  # IKE SAs per remote address (0: unlimited)
          child_sa_limit: 64     # Child SAs per IKE SA; CREATE_CHILD_SA beyond gets NO_ADDITIONAL_SAS (0: unlimited)
          acquire_queue: 32      # packets held per trap policy while its SA is negotiated
          admin_rate: 20         # admin API requests per second per client, token holders and others counted apart; more get HTTP 429
          # Tunnel routes (tunnel.install_routes) live in a table of their own, looked up by three rules from
          # routing_table_prio on; the IKE and ESP sockets carry fwmark = routing_table and skip them.
          routing_table: 220     # never 0, 253, 254 (main) or 255 (strongSwan's name and default)
          routing_table_prio: 220  # rules at 220, 221 and 222; at most 32763 (strongSwan's name and default)
          # IKE fragmentation (RFC 7383, connection fragmentation): a larger message leaves as SKF fragments.
          fragment_size: 1280    # largest IP datagram of a fragment we send, headers included (0: 576 IPv4, 1280 IPv6; strongSwan's)
          fragment_size_v4: 0    # for IPv4 peers alone (0: fragment_size; strongSwan's)
          fragment_size_v6: 0    # for IPv6 peers alone (0: fragment_size; strongSwan's)
          fragment_memory: 100m  # fragments all SAs may hold while reassembling; at least, and by default, init_limit_half_open x 2 x max_packet (Concentrator's)

        cluster:                 # Akka.Cluster membership; no seed_nodes and discovery none: a one-node cluster, remoting on loopback
          hostname: 127.0.0.1    # remoting bind/advertise address; env CONCENTRATOR_CLUSTER_HOSTNAME overrides it (Kubernetes: the pod IP);
                                 # a one-node cluster accepts loopback only, and any other address needs tls (remoting carries SA keys)
          port: 4053             # remoting TCP port (0: any free port)
          seed_nodes: []         # e.g. [akka.tcp://concentrator@10.0.0.1:4053, akka.tcp://concentrator@10.0.0.2:4053]
          discovery: none        # none | kubernetes (Akka.Management Cluster Bootstrap + Akka.Discovery.KubernetesApi)
          management_port: 8558  # Akka.Management HTTP with discovery kubernetes (container port named "management")
          kubernetes: { pod_label_selector: "app.kubernetes.io/name=concentrator", required_contact_points: 2 }
          split_brain_resolver: keep-majority  # keep-majority | static-quorum (majority of seeds) | keep-oldest | down-all | off
          tls:                   # remoting over mutual TLS; all empty: plain TCP (loopback only)
            certificate: ""      # PKCS#12: this node's certificate, its key (and intermediate CAs); nothing in it is trusted
            password_file: ""    # file holding the PKCS#12 password (trailing newline ignored)
            cacerts: []          # swanctl remote.cacerts: PEM/DER files of the CAs that issue node certificates, the only trust anchors
            remote_id: ""        # swanctl remote.id: the name every other node's certificate carries: an FQDN matched against its DNS
                                 # subjectAltNames ("*.vpn-cluster.vpn.svc.cluster.local": a leading * matches any prefix), a DN
                                 # matched against its subject ("CN=*, O=Example": * is any one value), or an IP address

        connections:
          site-a:
            version: 2
            local_addrs: [0.0.0.0]
            remote_addrs: ["%any"]
            proposals: [aes256gcm16-prfsha256-ecp256, aes256-sha256-modp2048]
            weak_algorithms: no   # yes admits 3des, sha1, prfsha1, modp1024 in proposals/esp_proposals (legacy peers; warned at start)
            encap: no             # yes: UDP-encapsulated ESP (port 4500) even without a NAT, e.g. where ESP is filtered
            fragmentation: yes    # RFC 7383: announced; we fragment if the peer announced too (accept: never; force: always; no: not announced)
            rekey_time: 4h
            reauth_time: 0
            dpd_delay: 30s
            keyingtries: 1        # one initiation attempt (other values: not supported yet)
            unique: no            # INITIAL_CONTACT replaces the peer's older IKE SAs (never, keep, replace: swanctl's)
            send_certreq: yes     # a pubkey remote round's CAs go out in a CERTREQ (swanctl's default)
            send_cert: ifasked    # our certificate and intermediates with a signature AUTH: ifasked (the peer sent a CERTREQ), always, never
            local:
              auth: psk           # psk: pre-shared key; pubkey: certificate (rsa/pss: RSA with RSASSA-PSS); eap: not supported yet
              id: gw.example.net
            remote:
              auth: psk
              id: "%any"
            children:
              lan:
                local_ts: [10.10.0.0/24]
                remote_ts: [10.20.0.0/24]
                esp_proposals: [aes256gcm16, aes128gcm16]
                mode: tunnel        # transport: not supported yet
                start_action: none
                dpd_action: clear
                close_action: none  # trap, start: not supported yet
                rekey_time: 1h
                rekey_bytes: 1G
                replay_window: 128  # packets; 0 disables replay protection, 1..31 count as 32
              dns:
                local_ts: "10.10.0.53[udp/53], 10.10.0.53[tcp/53]"
                remote_ts: dynamic
                esp_proposals: default

          roadwarriors:
            remote_addrs: ["%any"]
            pools: [rw-pool, rw-pool6]   # an address of each family the peer asks for; a peer that asks for none: FAILED_CP_REQUIRED
            local:
              auth: psk
              id: gw.example.net
            remote:
              auth: psk
              id: "*@example.net"
            children:
              rw:
                local_ts: [0.0.0.0/0, "::/0"]
                esp_proposals: [aes256gcm16-esn-noesn, chacha20poly1305]

          # Remote access with certificates (README, "Remote access", shows how to make them); uncomment with real files,
          # paths relative to this file. local.certs: our certificate, and the intermediate CAs sent with it; a private key in
          # secrets matches it. remote.cacerts: the root CA (self-signed) and intermediates to build chains with; remote.certs:
          # peer certificates to pin (with or without cacerts); remote.id: a pattern the certificate must name (subjectAltName,
          # or the subject DN: "C=CH, O=Example, CN=*"); remote.revocation: relaxed (a certificate on a CRL or revoked by OCSP
          # fails, no answer does not; only the responders of authorities are asked), strict (every issuer in the chain needs a
          # current CRL or a good OCSP answer; a certificate's AIA OCSP responder is asked too), ifuri (strict where the
          # certificate names a CRL distribution point or has an OCSP responder, configured or in its AIA).
          # rw-certs:
          #   local:  { auth: pubkey, certs: [gw-cert.pem, intermediate.pem], id: gw.example.net }
          #   remote: { auth: pubkey, cacerts: [ca.pem], id: "%any", revocation: relaxed }
          #   children:
          #     rw: { local_ts: [10.10.0.0/16] }

        # CRL files (PEM or DER) for every pubkey remote round; each applies to the certificates its issuer signed.
        # crls: [ca.crl, intermediate.crl]

        # OCSP responders (RFC 6960) per CA, swanctl's authorities: cacert is one CA certificate (PEM or DER, relative to this
        # file; it trusts nothing, remote.cacerts does), ocsp_uris the http URLs asked about the certificates that CA issued
        # (POST with a nonce, 3 s timeout, 64 KiB at most; good and revoked answers cached until their nextUpdate; a responder
        # that does not answer rests 30 s). crl_uris, cert_uri_base, file, handle, slot and module are not supported yet.
        # authorities:
        #   intermediate:
        #     cacert: intermediate.pem
        #     ocsp_uris: [http://ocsp.example.net/]

        # Identities (local/remote id, secret ids) use strongSwan's notation: gw.example.net (FQDN), user@example.net (e-mail),
        # "C=CH, O=Example, CN=gw" (a DN, sent as ID_DER_ASN1_DN), 192.0.2.1, @#hex or keyid:..., or a typed prefix: fqdn:, email:,
        # asn1dn:, keyid:, ipv4:, ipv6:. A remote id or secret id may be a pattern: %any, a leading '*' ("*@example.net",
        # "*.example.net"), a DN with "*" values. The connection and the secret are the best match for the peer's identity
        # (strongSwan's ranking: the peer's id first), not the first match; bob@example.net gets ike-roadwarriors' key.
        secrets:
          ike-site-a:
            id: [client.example.net, gw.example.net]
            secret: "0sc2VjcmV0LWZvci1zaXRlLWEtY2hhbmdlLW1l"
          ike-roadwarriors:
            id: "*@example.net"
            secret: 0x6368616e67652d6d652d746f6f
          # A private key (names starting private, rsa, ecdsa or pkcs8): PKCS#1, SEC1, PKCS#8 or encrypted PKCS#8, PEM or DER.
          # private-gw:
          #   file: gw-key.pem
          #   secret: "passphrase"   # encrypted PKCS#8 only

        """;

    /// <summary>Path of a file in the source tree, found by walking up to the solution file.</summary>
    public static string SourcePath(params string[] parts) => Path.Combine([Repository.Root, .. parts]);
}
