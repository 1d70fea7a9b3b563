using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire.V1;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto.V1;

/// <summary>
/// NIST CAVP SP 800-135 IKEv1 KDF component vectors (CAVS 17.3, generated 2015-02-09): the pre-shared key file
/// (SKEYID = prf(pre-shared-key, Ni_b | Nr_b)) and the digital signature file (SKEYID = prf(Ni_b | Nr_b, g^xy)), then
/// SKEYID_d/a/e, for SHA-1 and SHA-2. Copied case by case (COUNT = 0 of the sections named) from the public copy of the
/// CAVP response files in NSS: repository nss-dev/nss, tests/fips/cavs_samples/IKE/fax/ikev1_psk.fax and
/// ikev1_dsa.fax, added by commit ecde5131b5d3c35aa3e2f1c16e8bd388083e766f ("Bug 1546229 Add IPSEC IKE support to
/// softoken", unchanged at 9d75dfde2e791c38fdf5ea7f3da9609c46d8a4f8). The NSS README says the files are the NIST
/// CAVS vectors libreswan validated against. Field order in each row: CKY_I, CKY_R, Ni, Nr, g^xy[, pre-shared-key],
/// SKEYID, SKEYID_d, SKEYID_a, SKEYID_e, as in the files.
/// </summary>
public class V1CavpVectorTests
{
    public sealed record PskVector(string Name, Phase1Hash Hash, string CkyI, string CkyR, string Ni, string Nr, string Gxy,
        string Psk, string Skeyid, string SkeyidD, string SkeyidA, string SkeyidE);

    public sealed record SigVector(string Name, Phase1Hash Hash, string CkyI, string CkyR, string Ni, string Nr, string Gxy,
        string Skeyid, string SkeyidD, string SkeyidA, string SkeyidE);

    private static readonly PskVector[] Psk =
    [
        new("SHA-1 g^xy 256 Ni 64 psk 8 COUNT 0", Phase1Hash.Sha1,
            "83d374c30b3b5082",
            "5afc0da06c728029",
            "b9a2d0e922dc66dd",
            "2130166863b5ddef",
            "739003ba2c11c982946c65e26acf661fbf8ebb78011a9fead79efa12fe3e71cc",
            "75",
            "62b04d112877e442fc3282fc37c076997718a0b9",
            "369e5aad1bdb5faf6a3d929d500cdc236710a9ab",
            "588e957d8d790d093b3a39f121473473af78e9bb",
            "cd74b0c048219db81384d3fda8f6cda51e398a2b"),
        new("SHA-256 g^xy 256 Ni 64 psk 8 COUNT 0", Phase1Hash.Sha2_256,
            "4e30e8d4da0fecbf",
            "cf8ce1348665f112",
            "ead9ced494868f41",
            "f1aff4f425a94f18",
            "ea6c7c00e276d86adace3368f0c8245c3e486b8c6c1474a533b7da3b9c9b3f1f",
            "a0",
            "558a99b299773d267cf7c8ef073bf3b7af362c206c75a538403c5ef884d4cace",
            "3b4bb2bf33fc3f002c84f59370f39ac705ea8efd299f64aaf723b7995a2b1560",
            "c78ad634ec47feee88cda902731e731eb594114db6a1882bc2c948ee9765958c",
            "33b10be0f43bc5984a86a1470c48ece12290915589b8c73fa5c7b8faf2bb6503"),
        new("SHA-256 g^xy 256 Ni 2048 psk 224 COUNT 0", Phase1Hash.Sha2_256,
            "cef00e27d201b743",
            "a9f866a0ee47154c",
            "754d8b470aef2ee7d9ebc2f993230feab96b55cc0983be34c47bccd4af2ecfabb6fca757aa2a9b7c32ba000d943cfd2aabb3bca91e62bfd9" +
            "1d7357023e79a35124b9bbd469c7230aceb7f8cafe3ca06344072b30f38a1e1c442282b2afcc6dc46ed9caec67439957b60fdd5a685af4c6" +
            "0e8e22d1523473a92f8c9b272b2ef54a366432cbdb7fdac36b97b878e7ec1b4f3023bdbbb8f6465cbc0ab1b1371ab9e22e821ec4984cc11a" +
            "1ec3a82796d5934bc3a3f34350c1e04cb204cb7180cc179e34e8f781c31fed51b50391cec5333d089ce409843ffcb12cd360185e97f60a01" +
            "36fc719eaf39244b2c44f73bd3ce2e9f67a74891e729e94efdfb467f3c66575e",
            "b68de83a011314c1e2f846b834d4b7239f3a3e269c39995af251d9088da4a0f8f826be762fcdba7aaae8ad3d61dddc6924a219ac82027846" +
            "14c1c5003b7b199126b00f518d59c61a7bcbce207e779d7aefd31fe46748ca03e3e4a023859da2270fa23756ed359d2747c66f302387f3c8" +
            "fc1f38b2ceef1337b7d2b8e69df16e3b24cb53f785dfb7a14b7529cfac6901c21588b0207143133db8a8c43b00477714c96cc1a009961e5b" +
            "511d9674304b9ff78d7625b23d11a75d8aeef1d9ddaa14d338c71604911793d532c78e1fdc32751253e6945689213c54c91340d4e17800c3" +
            "281983b63df2d0cdb3d15964887a6b5d9f12147eacbf4947fe563884405fd567",
            "9f7e3fd7e33e01d419094ea3b0b43d273d41ecd1ed00c2129720543c339c52d7",
            "65d2c5c0363143554d8513c86d1ebb7b478a41f308f0aee3e1acb0a2",
            "fe3db842d5ab1cc9ac05a1a707d1e39ec0bd081a1401f44a2e1d3e1555ba2593",
            "4f1a1a9d9e0c0929a8b97a9a8a642771fcc61552067a91a04f9d1c257771339c",
            "c544b86c56ef4009599ed9bbf36814f8e6001b14746b11f2e656a15d26b3501c",
            "b15f397fb1b3537a7384b592d6c7d985a1ed7deda270db035d271b1972b9f38d"),
        new("SHA-384 g^xy 256 Ni 64 psk 8 COUNT 0", Phase1Hash.Sha2_384,
            "9ccc539d30d4f929",
            "a88216c6e1824511",
            "d6596b7e5b398534",
            "136fbdfa8d0ceb8e",
            "b2d1434e169be2b6463f65c958ebc51a3f2da220bbe66b7d7a7d14ca4a7724c7",
            "9e",
            "b54fa27cb4251051e44a659d73591845691d11f1874bf4e4088e5df6462d28e57a3a2af3ab4f9b746a8f5766f8785f2b",
            "5d168e1223d7e375b159ce3ead6aa46a194b59e96168db061ea571b87edf843f26ea41e5b54b23a6f5a037318830640d",
            "04cdf9df4afa53d3884624f7612768a0e4a01c1c5471315c5c99867831be20b4a55efbce9091c9eb69741d704dfe5e74",
            "3849065ad3f9ab2ec0f61c5c61b0ccc04f77d9ee5092a132f679972dc9c75c9334aff957b4cbbaf54cb65dfae1b55417"),
        new("SHA-512 g^xy 256 Ni 64 psk 8 COUNT 0", Phase1Hash.Sha2_512,
            "2ce3422d3dcba7f5",
            "82ca94cbe7b77049",
            "482a05eca86fba51",
            "84ee19d02272de2e",
            "aea3ae089168001f2e4bd693bc8303ad094b71ec57921bb0f9d1252c09c46ed1",
            "4c",
            "5bcb5499ae4c1437ce6c195392bf26bf7980a59bcb787a0b58671771a3d4b06dc1eb7809241b7e5931740b05bf8a9873bb493c5f067e28e4" +
            "f58ab65c3dbe44cd",
            "7be2bdc8c03d05b5932b95387cad909718dace7bf9e4eeacbaae431d6521828b70f8a6011640927eae4ebbf72f3dd154040b7ee7ed2fc156" +
            "83190d3da50ac7e6",
            "75149f3f671435eafafb3868eff58a6367ebbb50006c8723ccead82fe49967651decf63a079b0ffaa241eb341a90d612876e76866450739e" +
            "49f88ba306861b73",
            "39dd0670384325de75cc2dbd681d15423b630e93e5fefb0224f1defca1a9b0fdda61f8c922428b00cde4c386c4ca8898a48969e4c19f1fe3" +
            "0899a6260c5d8d46"),
        new("SHA-1 g^xy 2048 Ni 64 psk 8 COUNT 0", Phase1Hash.Sha1,
            "e8bbc995e70cc390",
            "6b4c4c8303c9caf7",
            "b9ebb54a863ac278",
            "426b751a44465856",
            "73c4a9626fcac2411e8f2fc583f4cf7b7c1e0e61deac20b2820c0770b12c377835bf5f4b130168a8d2a933e0ea282bf26b71778a2cef478a" +
            "0e60f79e618720ae9b9ba7f75aba7eee86897d0d5a5fac3f5c94780884416fcbd96a28574dd13e86a46ea78d1b97ec1d7ff5ba99af48301a" +
            "49b6a5f90239d22dce9c8c658a3df439d6f3ea291d9067d0a6770221140d6c62eebaaddddfda56a4e92f3ac36de357772e1f2d688206f8c6" +
            "2b85c076ef99d721fe7d344f5117d7c1499ac148697036c6f358bc6b2aa176dd8dee05979b4715a58f8e20062b3191fe0604893bb781dd22" +
            "3c032984f5889b987b08e74a1225ec325948d913bd2562e7608142d4d5a1351b",
            "1b",
            "420180cc4c76ec5e810781341c0e29f37c648c77",
            "d37b1d862f4f31ed2accfce0e8f3d2808bde2097",
            "4038e6fe1623ae5e183acd1a3137d39420399a7c",
            "ac534425054482ae627443d8c718b27bad4f048d"),    ];

    private static readonly SigVector[] Sig =
    [
        new("SHA-256 g^xy 256 Ni 64 COUNT 0", Phase1Hash.Sha2_256,
            "30293584b2cd84c2",
            "2402d7e8cf6958ca",
            "9da2d58f57f039f9",
            "204e0dd0ef04f372",
            "33f17afcb6134cbf1cab59877d42db3582226eff74dd37eb8b75e675645fc169",
            "804b4a1e0ec593cfb6e454524149396de234d0dae29f34a8fdb5f9afe76ea652",
            "f8ee9b1e8b7c03cf1595f7e197b0d873c5665453d512978c418823f53f18e055",
            "3c9d88515fdd981741b99c482e8d88dacdb6f9fcec2dd22af286087174645f49",
            "960563201c344d72797c3f92d81a1c36c7dbe9cbd59780cbaaeba7aa23deaf3c"),
        new("SHA-384 g^xy 256 Ni 64 COUNT 0", Phase1Hash.Sha2_384,
            "1c8aba986a00af0f",
            "b049d9672f73c920",
            "cec89d845add83ef",
            "cebd43ab71d17db9",
            "1724dbd893523764bfef8c6fa927856fccfb77ae254358cce29c2769a32915c1",
            "6e4514610bf82d0ab7bf0260096f6146a153c712071abb633ced813c572156c783e36874a65a64690ca701d40d56ea18",
            "b083234e9ed7745911f93eb31faa66fcf88906266830eb17ef166d295cb1f86a3543b8b8efa5df918533df537e9c809c",
            "938295a374aceb4147a8024c9a007dd313403fd8fd7070dbd0cfbe1ccd308dbfbb7b9e9c64049e4df44ff551016cb7b5",
            "8595b249dc1fa8599729f87eb6b9dd13bfbfdfd4f9ebd78929bab6ecc402539ad32cb6e7ef4ba6a0f53da14e4df07ed4"),
        new("SHA-512 g^xy 256 Ni 64 COUNT 0", Phase1Hash.Sha2_512,
            "1ff4d76565b3151a",
            "1f11b8eb20d57a16",
            "acadc6314a69cfcd",
            "4e4ad17718fea7ce",
            "b15a9cfce8c8d7eab879d6243029d40188d3b740875a6ac62f56cac4377e2edd",
            "f05aa036dfce45a558d40418dea98096e519bc7841e3db3dd93658d118c3e83b502f398ecb1361ec77d38a8855efff407f6f772e5d65b58e" +
            "b1134096e8478d2b",
            "3c4be16a631aa49018fa6740745a61ab1f1a2455a96e91f159a134ccfe30303d68721696195e95bfd530510ef2f9532491878710944db785" +
            "4f00ad13c68fca01",
            "15ecf5c80b675585e10c4388f6f9c37e8b63269a0a99851f08ba617e28c561f43eaf4112223ff97525bf0b3897f514fce7a3acee10a61ae0" +
            "88c01efc5f643587",
            "60f6b6c10c2b6bedc085ad6546d993c9ce1f86918d1c935c89d6631170a5dab0e37298f21ca3b7901a53bde55a15fad39f782039ce26fc8c" +
            "2ba8cbd9d4287669"),
        new("SHA-1 g^xy 2048 Ni 64 COUNT 0", Phase1Hash.Sha1,
            "54301963024156f5",
            "eaa8d2ce98d97f13",
            "5d58318d0767a193",
            "5de26de18128440a",
            "a6d90e195564a545e77de6ab7184a9b273c860de9ba5918eb4e8947fab92e2a8d64bc477954dcd1fc1277e81d69848807aa8342975b5c16d" +
            "ac0aff195e2d1109b030ca8ac93a778e5700a7a4f3f9b2849aaceb4abc7d4b0b92218ca9ba2a8858fc7b0ce933e61470b7d7de7230837226" +
            "652e124336901f8afe0eb53ac7c07b5529d877edac5d03b7c5d90860bd8099701ed75ae30e645a9165c380e2132f892488472d4941acfdb9" +
            "90a8253ea3b63e2c3f4792081a89280ed067d69163ff954d4b1ac7594a2d322b802747f5f7fbd7a2423bb573b606b707a55cc9da1b620252" +
            "0d72d208a597fb93916404f804697618fe3747892ddfb62468fcca29bf6e0c26",
            "90675480590ce12a34442707602478e53ce4822c",
            "d29032857df9d32163a7543a2d03939f6c5d2b31",
            "a0634192948ce4559e2bf45682098b9a7cfddd82",
            "645de341a146f4e15e92fa42265243441fe20c77"),    ];

    public static TheoryData<string> PskNames => new(Psk.Select(v => v.Name));

    public static TheoryData<string> SigNames => new(Sig.Select(v => v.Name));

    [Theory]
    [MemberData(nameof(PskNames))]
    public void Psk_file_gives_skeyid_and_its_three_children(string name)
    {
        var v = Psk.Single(p => p.Name == name);
        var prf = V1KeyDerivation.PrfOf(v.Hash);
        var skeyid = V1KeyDerivation.SkeyidPsk(prf, B(v.Psk), B(v.Ni), B(v.Nr));
        Assert.Equal(B(v.Skeyid), skeyid);
        var (d, a, e) = V1KeyDerivation.DeriveSkeyids(prf, skeyid, B(v.Gxy), B(v.CkyI), B(v.CkyR));
        Assert.Equal(B(v.SkeyidD), d);
        Assert.Equal(B(v.SkeyidA), a);
        Assert.Equal(B(v.SkeyidE), e);
    }

    [Theory]
    [MemberData(nameof(SigNames))]
    public void Signature_file_gives_skeyid_and_its_three_children(string name)
    {
        var v = Sig.Single(p => p.Name == name);
        var prf = V1KeyDerivation.PrfOf(v.Hash);
        var skeyid = V1KeyDerivation.SkeyidSignature(prf, B(v.Ni), B(v.Nr), B(v.Gxy));
        Assert.Equal(B(v.Skeyid), skeyid);
        var (d, a, e) = V1KeyDerivation.DeriveSkeyids(prf, skeyid, B(v.Gxy), B(v.CkyI), B(v.CkyR));
        Assert.Equal(B(v.SkeyidD), d);
        Assert.Equal(B(v.SkeyidA), a);
        Assert.Equal(B(v.SkeyidE), e);
    }

    /// <summary>
    /// The vectors can fail: one flipped bit in any input of a PSK case, or the two nonces or cookies swapped, changes
    /// the output it feeds, so a derivation that ignored or reordered an input would not match the file.
    /// </summary>
    [Fact]
    public void Any_changed_psk_input_misses_the_file()
    {
        var v = Psk[1];
        var prf = V1KeyDerivation.PrfOf(v.Hash);
        byte[] Flip(string hex)
        {
            var b = B(hex);
            b[^1] ^= 1;
            return b;
        }

        Assert.NotEqual(B(v.Skeyid), V1KeyDerivation.SkeyidPsk(prf, Flip(v.Psk), B(v.Ni), B(v.Nr)));
        Assert.NotEqual(B(v.Skeyid), V1KeyDerivation.SkeyidPsk(prf, B(v.Psk), Flip(v.Ni), B(v.Nr)));
        Assert.NotEqual(B(v.Skeyid), V1KeyDerivation.SkeyidPsk(prf, B(v.Psk), B(v.Ni), Flip(v.Nr)));
        Assert.NotEqual(B(v.Skeyid), V1KeyDerivation.SkeyidPsk(prf, B(v.Psk), B(v.Nr), B(v.Ni)));

        var skeyid = B(v.Skeyid);
        Assert.NotEqual(B(v.SkeyidD), V1KeyDerivation.DeriveSkeyids(prf, skeyid, Flip(v.Gxy), B(v.CkyI), B(v.CkyR)).D);
        Assert.NotEqual(B(v.SkeyidD), V1KeyDerivation.DeriveSkeyids(prf, skeyid, B(v.Gxy), Flip(v.CkyI), B(v.CkyR)).D);
        Assert.NotEqual(B(v.SkeyidD), V1KeyDerivation.DeriveSkeyids(prf, skeyid, B(v.Gxy), B(v.CkyI), Flip(v.CkyR)).D);
        Assert.NotEqual(B(v.SkeyidD), V1KeyDerivation.DeriveSkeyids(prf, skeyid, B(v.Gxy), B(v.CkyR), B(v.CkyI)).D);
        Assert.NotEqual(B(v.SkeyidA), V1KeyDerivation.DeriveSkeyids(prf, Flip(v.Skeyid), B(v.Gxy), B(v.CkyI), B(v.CkyR)).A);

        // The PSK and signature SKEYIDs swap key and data: each file's inputs through the other formula miss it.
        Assert.NotEqual(B(v.Skeyid), V1KeyDerivation.SkeyidSignature(prf, B(v.Ni), B(v.Nr), B(v.Psk)));
    }
}
