using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// Remoting TLS with mutual authentication: both ends present the certificate of <c>tls.certificate</c> and accept a
/// peer only if its certificate chains to a self-signed certificate in the same PKCS#12 (the shared node certificate
/// itself, or the CA that signed every node's certificate). The system trust store is not consulted: a public CA
/// would otherwise admit anyone with any certificate it issued into the cluster, which carries key material.
/// </summary>
public sealed class ClusterTls
{
    private readonly X509Certificate2Collection _anchors = new();
    private readonly X509Certificate2Collection _intermediates = new();

    private ClusterTls(X509Certificate2 certificate) => Certificate = certificate;

    public X509Certificate2 Certificate { get; }

    /// <summary>Reads the PKCS#12; a missing, unreadable or keyless file is a <see cref="ClusterTlsException"/> naming the key.</summary>
    public static ClusterTls Load(ClusterConfig c)
    {
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
        var tls = new ClusterTls(leaf);
        foreach (var cert in all)
        {
            (cert.SubjectName.RawData.AsSpan().SequenceEqual(cert.IssuerName.RawData) ? tls._anchors : tls._intermediates).Add(cert);
        }
        if (tls._anchors.Count == 0)
        {
            throw new ClusterTlsException("cluster.tls.certificate",
                $"'{c.TlsCertificate}' holds no self-signed certificate (the node certificate itself or its CA) to trust peers by");
        }
        return tls;
    }

    public DotNettySslSetup Setup() =>
        new(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, Validate);

    /// <summary>Accepts <paramref name="peer"/> when it chains to one of this node's anchors; runs on both TLS sides.</summary>
    public bool Accepts(X509Certificate2? peer)
    {
        if (peer is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_anchors);
        chain.ChainPolicy.ExtraStore.AddRange(_intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (!chain.Build(peer)) return false;
        // The chain must end in one of our anchors byte for byte: a self-signed stranger with the same subject
        // name would otherwise pass on platforms that match trust anchors by name.
        var root = chain.ChainElements[^1].Certificate;
        foreach (var anchor in _anchors)
        {
            if (anchor.RawData.AsSpan().SequenceEqual(root.RawData)) return true;
        }
        return false;
    }

    private bool Validate(X509Certificate2? certificate, X509Chain? chain, string remotePeer, SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (Accepts(certificate)) return true;
        log.Warning("Remoting TLS: rejected the certificate of {0} (not issued by this cluster's certificate)", remotePeer);
        return false;
    }
}

/// <summary>The <c>cluster.tls</c> material cannot be used: <see cref="KeyPath"/> names the configuration key at fault.</summary>
public sealed class ClusterTlsException(string keyPath, string problem) : Exception(problem)
{
    public string KeyPath { get; } = keyPath;
}
