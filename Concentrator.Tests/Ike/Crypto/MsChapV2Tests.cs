using System.Text;
using Concentrator.Ike.Eap;

namespace Concentrator.Tests.Ike.Crypto;

/// <summary>The MS-CHAPv2 compositions against the published vectors of RFC 2759 §9.2 and RFC 3079 §3.5.</summary>
public sealed class MsChapV2Tests
{
    private static readonly byte[] User = "User"u8.ToArray();
    private static readonly byte[] Password = "clientPass"u8.ToArray();
    private static readonly byte[] AuthenticatorChallenge = Convert.FromHexString("5B5D7C7D7B3F2F3E3C2C602132262628");
    private static readonly byte[] PeerChallenge = Convert.FromHexString("21402324255E262A28295F2B3A337C7E");
    private static readonly byte[] PasswordHash = Convert.FromHexString("44EBBA8D5312B8D611474411F56989AE");
    private static readonly byte[] NtResponse = Convert.FromHexString("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF");

    [Fact]
    public void Rfc2759_vectors()
    {
        Assert.Equal(PasswordHash, MsChapV2.NtPasswordHash(Password));
        Assert.Equal(Convert.FromHexString("41C00C584BD2D91C4017A2A12FA59F3F"), MsChapV2.HashNtPasswordHash(PasswordHash));
        Assert.Equal(Convert.FromHexString("D02E4386BCE91226"), MsChapV2.ChallengeHash(PeerChallenge, AuthenticatorChallenge, User));
        Assert.Equal(NtResponse, MsChapV2.NtResponse(AuthenticatorChallenge, PeerChallenge, User, PasswordHash));
        Assert.Equal("S=407A5589115FD0D6209F510FE9C04566932CDA56",
            MsChapV2.AuthenticatorResponse(PasswordHash, NtResponse, PeerChallenge, AuthenticatorChallenge, User));
    }

    [Fact]
    public void A_domain_before_the_user_name_is_not_hashed()
    {
        Assert.Equal(MsChapV2.ChallengeHash(PeerChallenge, AuthenticatorChallenge, User),
            MsChapV2.ChallengeHash(PeerChallenge, AuthenticatorChallenge, Encoding.ASCII.GetBytes("ACME\\User")));
    }

    [Fact]
    public void Rfc3079_master_key_and_start_keys()
    {
        var master = MsChapV2.MasterKey(MsChapV2.HashNtPasswordHash(PasswordHash), NtResponse);
        Assert.Equal(Convert.FromHexString("FDECE3717A8C838CB388E527AE3CDD31"), master);
        // §3.5.3's SendStartKey128 is the server's send key (Magic3).
        Assert.Equal(Convert.FromHexString("8B7CDC149B993A1BA118CB153F56DCCB"), MsChapV2.AsymmetricStartKey(master, serverSend: true));
        Assert.NotEqual(MsChapV2.AsymmetricStartKey(master, serverSend: true), MsChapV2.AsymmetricStartKey(master, serverSend: false));
    }

    [Fact]
    public void The_msk_is_strongswans_receive_key_send_key_and_32_zero_octets()
    {
        var msk = MsChapV2.Msk(PasswordHash, NtResponse);
        var master = MsChapV2.MasterKey(MsChapV2.HashNtPasswordHash(PasswordHash), NtResponse);
        Assert.Equal(64, msk.Length);
        Assert.Equal(MsChapV2.AsymmetricStartKey(master, serverSend: false), msk[..16]);
        Assert.Equal(Convert.FromHexString("8B7CDC149B993A1BA118CB153F56DCCB"), msk[16..32]);
        Assert.All(msk[32..], b => Assert.Equal(0, b));
    }
}
