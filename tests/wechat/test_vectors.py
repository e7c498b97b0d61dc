"""WeChat's own sample vectors (shared/WECHAT.md) through the wechatpy pieces we rely on."""

from __future__ import annotations

import json

from wechatpy.crypto import WeChatCrypto, WeChatWxaCrypto
from wechatpy.utils import check_signature

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_mini_program_user_info_sample_decrypts():
    crypto = WeChatWxaCrypto(
        "tiihtNczf5v6AKRyjwEUhQ==", "r7BXXKkLb8qrSNn05n0qiA==", "wx4f4bc4dec97d474b"
    )
    encrypted = (
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+"
        "oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFt"
        "nEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W"
        "//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5an"
        "aHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYm"
        "YVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
    )
    data = crypto.decrypt_message(encrypted)
    if isinstance(data, str | bytes):
        data = json.loads(data)
    assert data["openId"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert data["unionId"] == "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
    assert data["watermark"]["appid"] == "wx4f4bc4dec97d474b"


def test_official_account_plain_signature_sample():
    check_signature("pamtest", "76480565cbe296026c53aaacd1ad523a1ddba24f", "1409304348", "xxxxxx")


def test_official_account_encrypt_sample_with_fixed_random():
    from wechatpy.crypto import PrpCrypto
    from wechatpy.utils import WeChatSigner

    crypto = WeChatCrypto("pamtest", AES_KEY, "wxb11529c136998cb6")
    prp = PrpCrypto(crypto.key)
    prp.get_random_string = lambda: "aaaabbbbccccdddd"  # the sample's fixed random prefix
    encrypted = prp.encrypt("我是中文abcd123", crypto.app_id).decode()
    assert encrypted == (
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    )
    assert prp.decrypt(encrypted, crypto.app_id) == "我是中文abcd123"
    signer = WeChatSigner()
    signer.add_data("pamtest", "1409304348", "xxxxxx", encrypted)
    assert signer.signature == "82c962d39941aa48552f90ef55aa323dc620cc10"


def test_official_account_decrypt_sample():
    encrypt = (
        "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F"
        "8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332j"
        "isa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavj"
        "IQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewpusj"
        "Z4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
    )
    crypto = WeChatCrypto("spamtest", AES_KEY, "wx2c2769f8efd9abc2")
    envelope = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    xml = crypto.decrypt_message(
        envelope, "5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669", "1320562132"
    )
    from wechatpy import parse_message

    message = parse_message(xml)
    assert message.source == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert message.target == "gh_10f6c3c3ac5a"
    assert message.content == "abcdteT"
    assert message.id == 6054768590064713728
