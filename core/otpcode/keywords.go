package otpcode

import "strings"

// codeWords say a nearby token is a one-time code, in the languages OTP
// texts arrive in. They are matched in the lower-cased text; ASCII ones
// must start a word ("barcode" and "shopping" are not about codes), and
// the short ones must end it too.
var codeWords = []string{
	// English and Latin-script languages
	"code", "otp", "pin", "passcode", "password", "verification", "verify",
	"2fa", "login", "token", "security", "enter", "confirm",
	"kode", "kod", "kodu", "codigo", "código", "clave", "senha", "contraseña",
	"verificación", "verificacion", "vérification", "codice", "verifica",
	"bestätigungscode", "bestätigung", "passwort", "doğrulama", "dogrulama",
	"şifre", "sifre", "weryfikac", "mã", "xác thực", "xác nhận",
	"verificatiecode", "einmalpasswort", "verifieringskod", "koodi", "codul",
	"kód", "uthibitisho", "κωδικός", "קוד",
	// Cyrillic, Arabic, Persian
	"код", "пароль", "подтвержд",
	"رمز", "کد", "كود", "الرمز", "التحقق", "تحقق", "تأیید", "تایید",
	// East and South-East Asian, Indic
	"验证码", "驗證碼", "校验码", "动态码", "認証", "確認コード", "コード",
	"인증", "รหัส", "ยืนยัน", "ကုဒ်", "အတည်ပြု", "कोड", "ओटीपी", "सत्यापन",
	"কোড", "ওটিপি",
}

// notCodeWords, as the word just before a number, say it is something
// else: an order, an account, a card, a booking.
var notCodeWords = map[string]bool{
	"order": true, "ref": true, "reference": true, "invoice": true, "inv": true,
	"account": true, "acct": true, "ac": true, "card": true, "ending": true,
	"ticket": true, "booking": true, "tracking": true, "awb": true,
	"balance": true, "bal": true, "amount": true, "amt": true, "total": true,
	"flight": true, "pnr": true, "tel": true, "call": true, "phone": true,
	"room": true, "seat": true, "gate": true, "parcel": true, "shipment": true,
	"txn": true, "transaction": true, "id": true, "no": true, "nr": true,
}

// promoWords mark an advertisement, whose "code" is a coupon.
var promoWords = []string{
	"% off", "discount", "promo", "coupon", "voucher", "sale ", "cashback",
	"offer", "descuento", "rabatt", "скидк", "تخفیف", "خصم",
}

// currencyWords before or after a number make it an amount.
var currencyWords = []string{
	"$", "€", "£", "¥", "₹", "₦", "₱", "₫", "৳", "₩", "₺", "₽", "₴",
	"rs", "rs.", "inr", "usd", "eur", "gbp", "mmk", "ks", "kyat", "kyats",
	"rp", "idr", "php", "ngn", "kes", "ksh", "aed", "sar", "egp", "pkr",
	"bdt", "vnd", "thb", "myr", "rm", "tl", "try", "rub", "руб", "тенге",
	"تومان", "ریال", "ريال", "جنيه", "درهم", "元", "円", "บาท", "ကျပ်",
}

// unitWords after a number make it a quantity ("valid for 1440 minutes").
var unitWords = []string{
	"min", "mins", "minute", "minutes", "sec", "secs", "seconds", "hour",
	"hours", "hrs", "day", "days", "minutos", "minuten", "minut", "dakika",
	"menit", "phút", "минут", "دقیقه", "دقائق", "分钟", "分", "นาที",
	"မိနစ်", "मिनट", "mb", "gb", "kb", "sms", "points", "pts",
}

// asciiCodeWordsByStart indexes the code words written in ASCII letters by
// their first four letters; otherCodeWords are the rest, found by search.
var asciiCodeWordsByStart, otherCodeWords = splitCodeWords(codeWords)

func splitCodeWords(all []string) (map[string][]string, []string) {
	ascii := make(map[string][]string)
	var other []string
	for _, kw := range all {
		if !isPlainASCII(kw) || strings.ContainsFunc(kw, func(r rune) bool { return !isASCIIAlnum(byte(r)) }) {
			other = append(other, kw)
			continue
		}
		key := kw
		if len(key) > 4 {
			key = key[:4]
		}
		ascii[key] = append(ascii[key], kw)
	}
	return ascii, other
}
