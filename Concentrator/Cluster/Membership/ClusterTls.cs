using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Concentrator.Ike.Crypto;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// Remoting TLS with mutual authentication: both ends present the certificate of <c>tls.certificate</c> and accept a
/// peer only if its certificate chains to one of the CAs of <c>tls.cacerts</c> and carries the name of
/// <c>tls.remote_id</c> (<see cref="ClusterPeerName"/>), as strongSwan accepts a peer by remote.cacerts and remote.id.
/// Nothing else is trusted: not the system store (a public CA would admit anyone with any certificate it issued into
/// the cluster, which carries key material), not the certificates of the node's own PKCS#12 (a self-signed certificate
/// there used to be an anchor; intermediates from it only help build chains), not a certificate of the right CA issued
/// for another purpose under another name.
/// </summary>
public sealed class ClusterTls
{
    private readonly X509Certificate2Collection _anchors = new();
    private readonly X509Certificate2Collection _intermediates = new();
    private readonly ClusterPeerName _peerName;

    private ClusterTls(X509Certificate2 certificate, ClusterPeerName peerName)
    {
        Certificate = certificate;
        _peerName = peerName;
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>Reads the PKCS#12 and the CA files; a missing, unreadable or keyless file is a <see cref="ClusterTlsException"/> naming the key.</summary>
    public static ClusterTls Load(ClusterConfig c)
    {
        var peerName = ClusterPeerName.TryParse(c.TlsRemoteId, out var error)
            ?? throw new ClusterTlsException("cluster.tls.remote_id", error);
        string? password = null;
        if (c.TlsPasswordFile.Length > 0)
        {
            try
            {
                password = File.ReadAllText(c.TlsPasswordFile).TrimEnd('\r', '\n');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ClusterTlsException("cluster.tls.password_file", $"cannot read '{c.TlsPasswordFile}': {e.Message}");
            }
        }
        X509Certificate2Collection all;
        try
        {
            all = X509CertificateLoader.LoadPkcs12CollectionFromFile(c.TlsCertificate, password, X509KeyStorageFlags.DefaultKeySet);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ClusterTlsException("cluster.tls.certificate", $"cannot read PKCS#12 '{c.TlsCertificate}': {e.Message}");
        }
        var leaf = all.FirstOrDefault(x => x.HasPrivateKey)
            ?? throw new ClusterTlsException("cluster.tls.certificate", $"'{c.TlsCertificate}' holds no certificate with a private key");
        var tls = new ClusterTls(leaf, peerName);
        foreach (var cert in all)
        {
            if (cert != leaf && !cert.SubjectName.RawData.AsSpan().SequenceEqual(cert.IssuerName.RawData)) tls._intermediates.Add(cert);
        }
        foreach (var file in c.TlsCaCerts)
        {
            var found = ReadCertificates(file);
            if (found.Count == 0)
            {
                throw new ClusterTlsException("cluster.tls.cacerts", $"'{file}' holds no certificate (PEM or DER)");
            }
            tls._anchors.AddRange(found);
        }
        if (tls._anchors.Count == 0)
        {
            throw new ClusterTlsException("cluster.tls.cacerts", "no CA certificate to trust other nodes by");
        }
        return tls;
    }

    /// <summary>Every certificate of a PEM file, or the one of a DER file; none when it is neither.</summary>
    private static X509Certificate2Collection ReadCertificates(string file)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClusterTlsException("cluster.tls.cacerts", $"cannot read '{file}': {e.Message}");
        }
        try
        {
            return CertificateFile.Decode(bytes);
        }
        catch (CryptographicException)
        {
            return [];
        }
    }

    public DotNettySslSetup Setup() =>
        new(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, Validate);

    /// <summary>Accepts <paramref name="peer"/> when it chains to one of the configured CAs and carries the configured name;
    /// runs on both TLS sides.</summary>
    public bool Accepts(X509Certificate2? peer) => peer is not null && ChainsToAnchor(peer) && _peerName.Matches(peer);

    private bool ChainsToAnchor(X509Certificate2 peer)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_anchors);
        chain.ChainPolicy.ExtraStore.AddRange(_intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (!chain.Build(peer)) return false;
        // The chain must end in one of our anchors byte for byte: a self-signed stranger with the same subject
        // name would otherwise pass on platforms that match trust anchors by name. A peer that is itself an anchor (a CA
        // certificate presented as a node's) is refused: nodes carry certificates the CA issued.
        if (chain.ChainElements.Count < 2) return false;
        var root = chain.ChainElements[^1].Certificate;
        foreach (var anchor in _anchors)
        {
            if (anchor.RawData.AsSpan().SequenceEqual(root.RawData)) return true;
        }
        return false;
    }

    /// <summary>Refused handshakes since the last warning, and when that was (Environment.TickCount64; 0: never).</summary>
    private int _unreported;
    private long _lastReport;

    /// <summary>How often a refused handshake is logged at most: anyone who reaches the port can make one.</summary>
    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    /// <summary>Runs on DotNetty's threads, for every handshake.</summary>
    private bool Validate(X509Certificate2? certificate, X509Chain? chain, string remotePeer, SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (Accepts(certificate)) return true;
        long now = Environment.TickCount64, last = Interlocked.Read(ref _lastReport);
        if (last != 0 && now - last < ReportInterval.TotalMilliseconds || Interlocked.CompareExchange(ref _lastReport, now, last) != last)
        {
            Interlocked.Increment(ref _unreported);
            return false;
        }
        log.Warning("Remoting TLS: refused the certificate of {0} (not issued by a CA of tls.cacerts to the name {1}); {2} more refused since the last warning",
            remotePeer, _peerName, Interlocked.Exchange(ref _unreported, 0));
        return false;
    }
}

/// <summary>The <c>cluster.tls</c> material cannot be used: <see cref="KeyPath"/> names the configuration key at fault.</summary>
public sealed class ClusterTlsException(string keyPath, string problem) : Exception(problem)
{
    public string KeyPath { get; } = keyPath;
}
