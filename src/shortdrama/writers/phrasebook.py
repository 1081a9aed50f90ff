"""Lines and beats the offline writer assembles into a melodrama, per language.

Placeholders: {lead} {rival} {ally} are cast names, {theme} the series theme, {place} a location,
{lead_first} the first word of the lead's name (English titles only: a Vietnamese name puts the
family name first and the given name last, so the Vietnamese book names the lead in full).
Dialogue lines are short on purpose: an offline voice speaks ~2.5 English words, ~4 Chinese
characters or ~4 Vietnamese syllables a second, and a 3-second scene must still fit its line.
Every text is NFC (precomposed letters, e.g. "ấ" is one code point): subtitle fonts and eSpeak
read that form best.
"""

PHRASEBOOK: dict[str, dict[str, list]] = {
    "en": {
        "titles": ["{lead_first}'s Secret", "The Price of Silence", "Behind the Family Door", "The Heiress Next Door",
                   "Three Days to the Truth"],
        "synopsis": ["{theme}. {lead} must survive {rival}'s contempt long enough to reveal the truth, while {ally} "
                     "has to choose a side."],
        "plot_points": ["{rival} humiliates {lead} in front of the whole family",
                        "A forgotten document hints at who {lead} really is",
                        "{ally} discovers that {rival} has been hiding a debt",
                        "The truth about {lead}'s birth comes out at the worst moment",
                        "{rival} has to ask {lead} for help"],
        "episode_titles": ["The Slap", "The Contract", "The Photograph", "The Birthday Dinner", "The Will", "The Storm",
                           "The Confession", "The Return"],
        "hooks": ["{rival} throws {lead}'s suitcase onto the street", "A stranger calls {lead} by a name she never told anyone",
                  "{lead} finds her own baby photo in {rival}'s drawer", "{ally} catches {rival} tearing up a letter"],
        "conflicts": ["{rival} demands that {lead} leave the family", "{ally} must choose between {lead} and {rival}",
                      "{rival} accuses {lead} of stealing from the company", "{lead} refuses to sign away her rights"],
        "cliffhangers": ["A lawyer arrives asking for the missing heiress", "{rival} sees the birthmark on {lead}'s wrist",
                         "{ally} collapses holding the test results", "The company board calls {lead} by her real name"],
        "actions": {
            "hook": ["{a} freezes in the doorway as {b} turns around", "{a} drops a cup when {b} walks in",
                     "{a} stares at an old photograph under the lamp"],
            "conflict": ["{a} slams a folder onto the table in front of {b}", "{a} blocks {b}'s way to the door",
                         "{a} and {b} argue face to face", "{a} tears a letter in half and lets it fall"],
            "turn": ["{a} pulls a hidden document from her bag", "{a} quietly records {b} on her phone",
                     "{a} takes {b}'s hand for the first time"],
            "cliffhanger": ["{a} reads the message and goes pale", "{a} opens the door to a stranger holding a box",
                            "{a} turns slowly toward {b}, eyes wide"],
        },
        "lines": {
            "hook": ["What are you doing here?", "You were never welcome here.", "Who gave you this photo?",
                     "I know what you did."],
            "conflict": ["Sign it, or leave tonight.", "You will never be one of us.", "Mother, stop this now!",
                         "I did nothing wrong.", "Then prove it."],
            "turn": ["I kept the receipts.", "Look at the date on this.", "Maybe I was wrong about you."],
            "cliffhanger": ["This changes everything.", "No... it can't be.", "Who are you, really?"],
        },
        "locations": [("INT", "Chen family living room, night"), ("INT", "Kitchen of the Chen house, morning"),
                      ("INT", "Glass office of the family company, day"), ("EXT", "Street outside the villa, rain at night"),
                      ("INT", "Hospital corridor, night"), ("EXT", "Garden of the villa, evening"),
                      ("INT", "Restaurant private room, evening")],
    },
    "zh": {
        "titles": ["{lead}的秘密", "沉默的代价", "豪门儿媳", "隐藏的继承人", "真相三日"],
        "synopsis": ["{theme}。{lead}必须忍受{rival}的冷眼，直到揭开真相；而{ally}必须做出选择。"],
        "plot_points": ["{rival}当着全家人的面羞辱{lead}", "一份被遗忘的文件暗示了{lead}的真实身份",
                        "{ally}发现{rival}一直隐瞒着一笔债务", "{lead}的身世在最糟糕的时刻曝光", "{rival}不得不向{lead}求助"],
        "episode_titles": ["一记耳光", "合同", "旧照片", "生日宴", "遗嘱", "风暴", "坦白", "归来"],
        "hooks": ["{rival}把{lead}的行李扔到街上", "陌生人叫出了{lead}从未告诉任何人的名字",
                  "{lead}在{rival}的抽屉里发现了自己的婴儿照", "{ally}撞见{rival}撕毁一封信"],
        "conflicts": ["{rival}逼{lead}离开这个家", "{ally}必须在{lead}和{rival}之间做出选择",
                      "{rival}诬陷{lead}偷了公司的钱", "{lead}拒绝签字放弃自己的权利"],
        "cliffhangers": ["一位律师上门寻找失散的继承人", "{rival}看见了{lead}手腕上的胎记",
                         "{ally}拿着检测报告倒下了", "董事会叫出了{lead}的真名"],
        "actions": {
            "hook": ["{a}在门口僵住，{b}缓缓转身", "{b}走进来时，{a}手中的杯子掉在地上", "{a}在灯下凝视一张旧照片"],
            "conflict": ["{a}把文件夹摔在{b}面前", "{a}挡住{b}的去路", "{a}和{b}针锋相对", "{a}把信撕成两半"],
            "turn": ["{a}从包里拿出一份藏好的文件", "{a}悄悄用手机录下{b}的话", "{a}第一次握住{b}的手"],
            "cliffhanger": ["{a}看完短信，脸色发白", "{a}开门，门外站着一个捧着盒子的陌生人", "{a}慢慢转向{b}，瞪大了眼睛"],
        },
        "lines": {
            "hook": ["你来这里干什么？", "这个家从来不欢迎你。", "这张照片是谁给你的？", "我知道你做了什么。"],
            "conflict": ["签字，不然今晚就走。", "你永远不是我们家的人。", "妈，别再闹了！", "我没有做错任何事。", "那你证明给我看。"],
            "turn": ["我留着所有的收据。", "你看看这上面的日期。", "也许我错怪你了。"],
            "cliffhanger": ["这改变了一切。", "不……这不可能。", "你到底是谁？"],
        },
        "locations": [("INT", "陈家客厅，夜"), ("INT", "陈家厨房，早晨"), ("INT", "家族公司的玻璃办公室，白天"),
                      ("EXT", "别墅外的街道，雨夜"), ("INT", "医院走廊，夜"), ("EXT", "别墅花园，黄昏"), ("INT", "餐厅包间，晚上")],
    },
    "vi": {
        "titles": ["Bí mật của {lead}", "Cái giá của im lặng", "Sau cánh cửa hào môn", "Người thừa kế thất lạc",
                   "Ba ngày để biết sự thật"],
        "synopsis": ["{theme}. {lead} phải nhẫn nhịn sự khinh miệt của {rival} cho đến ngày vạch trần sự thật, "
                     "còn {ally} buộc phải chọn đứng về một phía."],
        "plot_points": ["{rival} sỉ nhục {lead} trước mặt cả gia đình",
                        "Một tờ giấy bị bỏ quên hé lộ thân phận thật của {lead}",
                        "{ally} phát hiện {rival} đang che giấu một món nợ",
                        "Sự thật về thân thế của {lead} bị phơi bày vào lúc tồi tệ nhất",
                        "{rival} buộc phải cầu xin {lead} giúp đỡ"],
        "episode_titles": ["Cái tát", "Bản hợp đồng", "Tấm ảnh cũ", "Bữa tiệc sinh nhật", "Bản di chúc", "Cơn bão",
                           "Lời thú nhận", "Ngày trở về"],
        "hooks": ["{rival} ném va li của {lead} ra giữa đường", "Một người lạ gọi {lead} bằng cái tên cô chưa từng nói với ai",
                  "{lead} tìm thấy ảnh hồi nhỏ của chính mình trong ngăn kéo của {rival}",
                  "{ally} bắt gặp {rival} đang xé một bức thư"],
        "conflicts": ["{rival} ép {lead} phải rời khỏi gia đình", "{ally} phải chọn giữa {lead} và {rival}",
                      "{rival} vu cho {lead} tội biển thủ tiền công ty", "{lead} nhất quyết không ký giấy từ bỏ quyền lợi của mình"],
        "cliffhangers": ["Một luật sư tìm đến, hỏi về người thừa kế thất lạc", "{rival} nhìn thấy vết bớt trên cổ tay {lead}",
                         "{ally} ngã quỵ, tay vẫn nắm chặt tờ kết quả xét nghiệm",
                         "Hội đồng quản trị gọi {lead} bằng tên thật của cô"],
        "actions": {
            "hook": ["{a} khựng lại nơi ngưỡng cửa khi {b} chậm rãi quay người", "{a} đánh rơi tách trà khi {b} bước vào",
                     "{a} lặng người nhìn tấm ảnh cũ dưới ánh đèn"],
            "conflict": ["{a} đập mạnh tập hồ sơ xuống bàn trước mặt {b}", "{a} chặn lối ra cửa của {b}",
                         "{a} và {b} đối mặt, lời qua tiếng lại gay gắt", "{a} xé đôi bức thư rồi buông tay cho nó rơi xuống"],
            "turn": ["{a} rút từ trong túi ra một tập giấy tờ được giấu kỹ", "{a} lặng lẽ dùng điện thoại ghi âm lời {b}",
                     "{a} lần đầu tiên nắm lấy tay {b}"],
            "cliffhanger": ["{a} đọc xong tin nhắn, mặt tái mét", "{a} mở cửa, bên ngoài là một người lạ ôm chiếc hộp",
                            "{a} từ từ quay sang {b}, mắt mở to sững sờ"],
        },
        "lines": {
            "hook": ["Sao lại đến đây?", "Nhà này chưa bao giờ chào đón cô.", "Tấm ảnh này ở đâu ra?", "Tôi biết hết rồi."],
            "conflict": ["Ký đi, không thì tối nay dọn đi.", "Cô mãi mãi không phải người nhà này.", "Đủ rồi, dừng lại đi!",
                         "Tôi không làm gì sai cả.", "Vậy thì chứng minh đi."],
            "turn": ["Tôi vẫn giữ hết hóa đơn.", "Xem kỹ ngày tháng trên này đi.", "Có lẽ tôi đã trách lầm rồi."],
            "cliffhanger": ["Chuyện này thay đổi tất cả.", "Không... không thể nào.", "Rốt cuộc cô là ai?"],
        },
        "locations": [("INT", "Phòng khách nhà họ Trần, ban đêm"), ("INT", "Gian bếp nhà họ Trần, buổi sáng"),
                      ("INT", "Văn phòng kính của công ty gia đình, ban ngày"), ("EXT", "Con phố trước biệt thự, đêm mưa"),
                      ("INT", "Hành lang bệnh viện, ban đêm"), ("EXT", "Khu vườn của biệt thự, lúc hoàng hôn"),
                      ("INT", "Phòng riêng trong nhà hàng, buổi tối")],
    },
}

# How each line of a book's "lines" is said: (emotion, delivery), one table for every language (the books'
# lines are translations of one another, in the same order). Emotions are words voice.emotion knows
# (writers/hints.py EMOTIONS); deliveries are English directions for the voices that take instructions,
# None where the line needs none. Offline, eSpeak NG hears only the emotion (its pace and pitch).
LINE_HINTS: dict[str, list[tuple[str, str | None]]] = {
    "hook": [("shocked", None), ("contemptuous", "cold and slow"), ("anxious", "low and urgent"),
             ("cold", "quiet, every word deliberate")],
    "conflict": [("cold", "clipped and final"), ("contemptuous", "with a sneer"), ("furious", "shouted"),
                 ("hurt", "voice breaking"), ("bitter", "through gritted teeth")],
    "turn": [("calm", "steady, almost a smile"), ("calm", None), ("tender", "softly")],
    "cliffhanger": [("stunned", "barely a whisper"), ("shocked", "whispered, trailing off"),
                    ("fearful", "slow and uneasy")],
}

# How fast the offline voice speaks, to size dialogue to a scene: words (en), characters (zh) or
# syllables (vi: written as space-separated syllables) per second. eSpeak NG's `vi` voice at 165 wpm
# speaks about 4 syllables a second (measured on the book's lines); 3.5 leaves room for the pauses.
SPEECH_UNITS_PER_SECOND = {"en": 2.4, "zh": 3.8, "vi": 3.5}
# Languages written with spaces between the units above; the others count letters and digits.
_SPACED_UNITS = frozenset({"en", "vi"})


def speech_units(text: str, language: str) -> float:
    """How much there is to say in `text`, in the units of SPEECH_UNITS_PER_SECOND."""
    return len(text.split()) if language in _SPACED_UNITS else sum(1 for ch in text if ch.isalnum())
