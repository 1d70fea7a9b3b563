using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;

namespace Concentrator.Ike.Eap;

/// <summary>
/// The MS-CHAPv2 compositions (RFC 2759 §8: NtPasswordHash, ChallengeHash, ChallengeResponse, GenerateAuthenticatorResponse)
/// and the MPPE master keys (RFC 3079 §3.3-3.4) on library primitives: MD4 and DES from BouncyCastle, SHA-1 from .NET.
/// The MSK is strongSwan's (eap_mschapv2.c GenerateMSK): MasterReceiveKey | MasterSendKey | 32 zero octets, 64 in all,
/// the same on both ends. Proven with RFC 2759 §9.2 and RFC 3079 §3.5 vectors (MsChapV2Tests). Callers zero what they get.
/// </summary>
public static class MsChapV2
{
    public const int MskLength = 64;

    private static readonly byte[] Magic1 = "Magic server to client signing constant"u8.ToArray();
    private static readonly byte[] Magic2 = "Pad to make it do more than one iteration"u8.ToArray();
    private static readonly byte[] MasterMagic = "This is the MPPE Master Key"u8.ToArray();
    private static readonly byte[] KeyMagic2 = "On the client side, this is the send key; on the server side, it is the receive key."u8.ToArray();
    private static readonly byte[] KeyMagic3 = "On the client side, this is the receive key; on the server side, it is the send key."u8.ToArray();

    /// <summary>RFC 2759 §8.3 NtPasswordHash: MD4 of the password in UTF-16LE (16 octets).</summary>
    public static byte[] NtPasswordHash(ReadOnlySpan<byte> passwordUtf8)
    {
        // Through a char array, never a string: both copies of the password are zeroed.
        var chars = new char[Encoding.UTF8.GetCharCount(passwordUtf8)];
        Encoding.UTF8.GetChars(passwordUtf8, chars);
        var unicode = Encoding.Unicode.GetBytes(chars);
        try
        {
            return Md4(unicode);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(unicode);
            Array.Clear(chars);
        }
    }

    /// <summary>RFC 2759 §8.4 HashNtPasswordHash: MD4 of the NT hash.</summary>
    public static byte[] HashNtPasswordHash(ReadOnlySpan<byte> passwordHash) => Md4(passwordHash);

    /// <summary>RFC 2759 §8.2 ChallengeHash: the first 8 octets of SHA1(PeerChallenge | AuthenticatorChallenge | UserName),
    /// the user name without a domain ("DOMAIN\user" → "user", §8.1).</summary>
    public static byte[] ChallengeHash(ReadOnlySpan<byte> peerChallenge, ReadOnlySpan<byte> authenticatorChallenge, ReadOnlySpan<byte> userName)
    {
        int slash = userName.LastIndexOf((byte)'\\');
        if (slash >= 0) userName = userName[(slash + 1)..];
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(peerChallenge);
        sha1.AppendData(authenticatorChallenge);
        sha1.AppendData(userName);
        return sha1.GetHashAndReset()[..8];
    }

    /// <summary>RFC 2759 §8.5 ChallengeResponse: the 8-octet challenge DES-encrypted under the three 7-octet thirds of the
    /// NT hash zero-padded to 21 octets (24 octets).</summary>
    public static byte[] ChallengeResponse(ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> passwordHash)
    {
        Span<byte> padded = stackalloc byte[21];
        padded.Clear();
        passwordHash.CopyTo(padded);
        var response = new byte[24];
        for (int i = 0; i < 3; i++) DesEncrypt(challenge, padded.Slice(i * 7, 7), response.AsSpan(i * 8, 8));
        CryptographicOperations.ZeroMemory(padded);
        return response;
    }

    /// <summary>RFC 2759 §8.1 GenerateNTResponse.</summary>
    public static byte[] NtResponse(ReadOnlySpan<byte> authenticatorChallenge, ReadOnlySpan<byte> peerChallenge, ReadOnlySpan<byte> userName,
        ReadOnlySpan<byte> passwordHash) =>
        ChallengeResponse(ChallengeHash(peerChallenge, authenticatorChallenge, userName), passwordHash);

    /// <summary>RFC 2759 §8.7 GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits.</summary>
    public static string AuthenticatorResponse(ReadOnlySpan<byte> passwordHash, ReadOnlySpan<byte> ntResponse, ReadOnlySpan<byte> peerChallenge,
        ReadOnlySpan<byte> authenticatorChallenge, ReadOnlySpan<byte> userName)
    {
        var hashHash = HashNtPasswordHash(passwordHash);
        try
        {
            using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            sha1.AppendData(hashHash);
            sha1.AppendData(ntResponse);
            sha1.AppendData(Magic1);
            var digest = sha1.GetHashAndReset();
            sha1.AppendData(digest);
            sha1.AppendData(ChallengeHash(peerChallenge, authenticatorChallenge, userName));
            sha1.AppendData(Magic2);
            return "S=" + Convert.ToHexString(sha1.GetHashAndReset());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hashHash);
        }
    }

    /// <summary>RFC 3079 §3.4 GetMasterKey: the first 16 octets of SHA1(PasswordHashHash | NTResponse | Magic1).</summary>
    public static byte[] MasterKey(ReadOnlySpan<byte> passwordHashHash, ReadOnlySpan<byte> ntResponse)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(passwordHashHash);
        sha1.AppendData(ntResponse);
        sha1.AppendData(MasterMagic);
        return sha1.GetHashAndReset()[..16];
    }

    /// <summary>RFC 3079 §3.4 GetAsymmetricStartKey for 128-bit keys: <paramref name="serverSend"/> selects Magic3 (the
    /// server's send key, the client's receive key), else Magic2 (the client's send key, the server's receive key).</summary>
    public static byte[] AsymmetricStartKey(ReadOnlySpan<byte> masterKey, bool serverSend)
    {
        Span<byte> pad1 = stackalloc byte[40];
        Span<byte> pad2 = stackalloc byte[40];
        pad1.Clear();
        pad2.Fill(0xf2);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(masterKey);
        sha1.AppendData(pad1);
        sha1.AppendData(serverSend ? KeyMagic3 : KeyMagic2);
        sha1.AppendData(pad2);
        return sha1.GetHashAndReset()[..16];
    }

    /// <summary>The MSK as strongSwan makes it on both ends: Magic2 key | Magic3 key | 32 zero octets.</summary>
    public static byte[] Msk(ReadOnlySpan<byte> passwordHash, ReadOnlySpan<byte> ntResponse)
    {
        var hashHash = HashNtPasswordHash(passwordHash);
        var master = MasterKey(hashHash, ntResponse);
        var receive = AsymmetricStartKey(master, serverSend: false);
        var send = AsymmetricStartKey(master, serverSend: true);
        var msk = new byte[MskLength];
        receive.CopyTo(msk, 0);
        send.CopyTo(msk, 16);
        CryptographicOperations.ZeroMemory(hashHash);
        CryptographicOperations.ZeroMemory(master);
        CryptographicOperations.ZeroMemory(receive);
        CryptographicOperations.ZeroMemory(send);
        return msk;
    }

    private static byte[] Md4(ReadOnlySpan<byte> data)
    {
        var md4 = new MD4Digest();
        md4.BlockUpdate(data);
        var hash = new byte[md4.GetDigestSize()];
        md4.DoFinal(hash);
        return hash;
    }

    /// <summary>DES of one block under a 56-bit key spread over 8 octets (RFC 2759 §8.6 DesEncrypt; parity bits unused).</summary>
    private static void DesEncrypt(ReadOnlySpan<byte> block, ReadOnlySpan<byte> key7, Span<byte> output)
    {
        var key = new byte[8];
        key[0] = key7[0];
        key[1] = (byte)((key7[0] << 7) | (key7[1] >> 1));
        key[2] = (byte)((key7[1] << 6) | (key7[2] >> 2));
        key[3] = (byte)((key7[2] << 5) | (key7[3] >> 3));
        key[4] = (byte)((key7[3] << 4) | (key7[4] >> 4));
        key[5] = (byte)((key7[4] << 3) | (key7[5] >> 5));
        key[6] = (byte)((key7[5] << 2) | (key7[6] >> 6));
        key[7] = (byte)(key7[6] << 1);
        var des = new DesEngine();
        des.Init(true, new KeyParameter(key));
        des.ProcessBlock(block, output);
        CryptographicOperations.ZeroMemory(key);
    }
}
