package numerology

// Word classes of the answer reader. Keys are skeletons (skeletonString), so
// a homoglyph inside a word does not hide it. The tables are immutable after
// package initialisation.

// valueFillers may stand between a label and its value ("Karma is 5",
// "Карма равна 5", "Джива — это 2").
var valueFillers = []string{
	"is", "are", "was", "will", "would", "be", "equals", "equal", "to", "it", "it's", "its", "your",
	"the", "a", "number", "num", "value", "result", "here", "then", "so", "we", "get", "comes", "out",
	"as", "gives", "makes", "which", "final", "finally", "total", "reduced", "digit", "root", "dr",
	"now", "therefore", "thus", "hence", "i", "think", "you", "have", "has", "answer", "of", "that",
	"becomes", "give", "come", "correct", "right", "but", "in", "fact",
	"число", "числа", "равно", "равна", "равен", "равны", "равняется", "составляет", "ваша", "ваш",
	"ваше", "твоя", "твой", "твое", "это", "цифра", "будет", "получается", "выходит", "итог", "итого",
	"значение", "результат", "даёт", "дает", "у", "вас", "тебя", "есть", "так", "что", "значит",
	"получаем", "является", "тогда", "здесь", "на", "самом", "деле", "всё", "же", "таким", "образом",
	"ответ", "а", "быть", "values", "сводим", "сокращаем", "правильно", "верно", "правильная", "верная",
}

// inputWords name what a number is computed from ("day 29", "год 1988"): a
// plain number after one is the input, not a commitment, unless a ":" or "="
// follows the word or the number is reduced by a chain.
var inputWords = []string{
	"day", "month", "year", "date", "sum", "digits", "birthday",
	"день", "дня", "дню", "месяц", "месяца", "год", "года", "году", "дата", "даты", "сумма", "суммы",
	"сумму", "цифр", "цифры", "рождения",
}

// hedgeWords offer another value or take one back ("2 or 3", "possibly 6",
// "впрочем, точнее 6"). Before a value they are skipped; after one, a number
// that follows them is an alternative.
var hedgeWords = []string{
	"or", "maybe", "possibly", "perhaps", "probably", "actually", "likely", "could", "might", "may",
	"should", "correction", "corrected", "wait", "sorry", "oops", "hmm", "no", "alternatively",
	"else", "either", "rather", "instead", "mistake", "fix", "fixed", "update", "updated", "apologies",
	"или", "либо", "возможно", "может", "наверное", "вероятно", "впрочем", "точнее", "вернее",
	"скорее", "поправка", "исправление", "исправляю", "ошибся", "ошиблась", "ошибка", "нет",
	"извините", "простите", "хотя", "правильнее", "иначе", "пожалуй", "кажется", "стоп", "погодите",
	"уточнение", "уточню",
}

// negWords reject the value that follows ("not 5, but 6", "не 5, а 6").
var negWords = []string{"not", "isn't", "isnt", "не"}

// andWords join labels or values in a list ("Jiva and Karma", "2 и 5").
var andWords = []string{"and", "и"}

// numberWords are the numbers 1..9 written as words, in English and in the
// Russian cases and collective forms ("пяти", "двойка", "единицей").
var numberWords = func() map[string]int {
	m := map[string]int{}
	add := func(v int, words ...string) {
		for _, w := range words {
			m[skeletonString(w)] = v
		}
	}
	add(1, "one", "один", "одна", "одно", "одного", "одной", "одному", "одним")
	add(2, "two", "два", "две", "двух", "двум", "двумя")
	add(3, "three", "три", "трёх", "трём", "тремя")
	add(4, "four", "четыре", "четырёх", "четырём", "четырьмя")
	add(5, "five", "пять", "пяти", "пятью")
	add(6, "six", "шесть", "шести", "шестью")
	add(7, "seven", "семь", "семи", "семью")
	add(8, "eight", "восемь", "восьми", "восемью")
	add(9, "nine", "девять", "девяти", "девятью")
	for v, stem := range []string{"единиц", "двойк", "тройк", "четвёрк", "пятёрк", "шестёрк", "семёрк", "восьмёрк", "девятк"} {
		add(v+1, stem+"а", stem+"и", stem+"е", stem+"у", stem+"ой", stem+"ою")
	}
	add(1, "единичка", "единички", "единичке", "единичку", "единичкой")
	return m
}()

// wordKinds maps the skeleton of every classified word to its token kind.
var wordKinds = func() map[string]tokKind {
	m := map[string]tokKind{}
	for _, set := range []struct {
		k     tokKind
		words []string
	}{{tkFiller, valueFillers}, {tkInput, inputWords}, {tkHedge, hedgeWords}, {tkNeg, negWords}, {tkAnd, andWords}} {
		for _, w := range set.words {
			m[skeletonString(w)] = set.k
		}
	}
	return m
}()
