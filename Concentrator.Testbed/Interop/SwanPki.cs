using System.Globalization;

namespace Concentrator.Testbed.Interop;

/// <summary>
/// A test PKI made at test time with strongSwan's own tool (<c>pki</c>, Debian's strongswan-pki), so the certificates,
/// keys (PKCS#1 RSA PRIVATE KEY, SEC1 EC PRIVATE KEY) and CRLs are what a strongSwan user makes; everything in PEM, in one
/// directory of the run. Nothing here is meant for production use.
/// </summary>
public sealed class SwanPki(string dir)
{
    public const string Tool = "pki";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public string Dir { get; } = dir;

    /// <summary>The path of <c>name</c> + <paramref name="extension"/> in <see cref="Dir"/>.</summary>
    public string Path(string name, string extension = ".pem") => System.IO.Path.Combine(Dir, name + extension);

    /// <summary>name.key: <c>pki --gen</c>, rsa (bits) or ecdsa (256, 384, 521).</summary>
    public Task KeyAsync(string name, string type, int bits) =>
        RunToFileAsync(Path(name, ".key"), "--gen", "--type", type, "--size", bits.ToString(CultureInfo.InvariantCulture), "--outform", "pem");

    /// <summary>name.key and the self-signed CA certificate name.pem.</summary>
    public async Task RootAsync(string name, string dn, string type = "rsa", int bits = 3072)
    {
        await KeyAsync(name, type, bits).ConfigureAwait(false);
        await RunToFileAsync(Path(name), "--self", "--ca", "--lifetime", "3650", "--in", Path(name, ".key"), "--type", "priv", "--dn", dn, "--outform", "pem")
            .ConfigureAwait(false);
    }

    /// <summary>
    /// name.key and name.pem issued by <paramref name="issuer"/> (its .pem and .key): a CA when <paramref name="ca"/>, else an end
    /// entity with the subjectAltNames and extendedKeyUsage flags given; valid from <paramref name="notBefore"/> to
    /// <paramref name="notAfter"/> when given (UTC), else 3 years from now.
    /// </summary>
    public async Task IssueAsync(string name, string issuer, string dn, string type = "rsa", int bits = 2048, bool ca = false, string[]? san = null,
        string[]? flags = null, DateTime? notBefore = null, DateTime? notAfter = null)
    {
        await KeyAsync(name, type, bits).ConfigureAwait(false);
        var args = new List<string>
        {
            "--issue", "--in", Path(name, ".key"), "--type", "priv", "--cacert", Path(issuer), "--cakey", Path(issuer, ".key"), "--dn", dn,
            "--outform", "pem",
        };
        if (ca) args.AddRange(["--ca", "--flag", "crlSign"]);
        foreach (var s in san ?? []) args.AddRange(["--san", s]);
        foreach (var f in flags ?? []) args.AddRange(["--flag", f]);
        if (notBefore is { } from && notAfter is { } to)
        {
            const string form = "%d.%m.%Y %H:%M:%S";
            args.AddRange(["--dateform", form, "--not-before", from.ToString("dd.MM.yyyy HH:mm:ss", CultureInfo.InvariantCulture),
                "--not-after", to.ToString("dd.MM.yyyy HH:mm:ss", CultureInfo.InvariantCulture)]);
        }
        await RunToFileAsync(Path(name), [.. args]).ConfigureAwait(false);
    }

    /// <summary>name.crl signed by <paramref name="issuer"/>, listing the certificates <paramref name="revoked"/> (key compromise).</summary>
    public async Task CrlAsync(string name, string issuer, params string[] revoked)
    {
        var args = new List<string> { "--signcrl", "--cacert", Path(issuer), "--cakey", Path(issuer, ".key"), "--lifetime", "7", "--outform", "pem" };
        foreach (var r in revoked) args.AddRange(["--cert", Path(r), "--reason", "key-compromise"]);
        await RunToFileAsync(Path(name, ".crl"), [.. args]).ConfigureAwait(false);
    }

    /// <summary>pki writes to stdout (PEM text here); a failure throws with its output.</summary>
    private static async Task RunToFileAsync(string file, params string[] args)
    {
        var r = await Command.RunAsync(Tool, args, Timeout).ConfigureAwait(false);
        if (!r.Ok || r.Stdout.Length == 0) throw new InvalidOperationException($"pki failed: {r}");
        await File.WriteAllTextAsync(file, r.Stdout).ConfigureAwait(false);
    }
}
