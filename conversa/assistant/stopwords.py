"""The little words of Portuguese and English (Snowball's lists, folded: lower case, no
accents), with the words of asking and greeting: none of them says what a question is about,
so none of them counts when passages are retrieved (assistant.knowledge.keywords)."""

PORTUGUESE = """
a ao aos aquela aquelas aquele aqueles aquilo as ate com como da das de dela delas dele deles
depois do dos e ela elas ele eles em entre era eram eramos essa essas esse esses esta estamos
estao estar estas estava estavam estavamos este esteja estejam estejamos estes esteve estive
estivemos estiver estivera estiveram estiveramos estiverem estivermos estivesse estivessem
estivessemos estou eu foi fomos for fora foram foramos forem formos fosse fossem fossemos fui ha
haja hajam hajamos hao havemos haver hei houve houvemos houver houvera houveram houveramos
houverao houverei houverem houveremos houveria houveriam houveriamos houvermos houvesse
houvessem houvessemos isso isto ja lhe lhes mais mas me mesmo meu meus minha minhas muito na
nao nas nem no nos nossa nossas nosso nossos num numa o os ou para pela pelas pelo pelos por
qual quando que quem sao se seja sejam sejamos sem ser sera serao serei seremos seria seriam
seriamos sou sua suas tambem te tem temos tenha tenham tenhamos tenho terao terei teremos teria
teriam teriamos teu teus teve tinha tinham tinhamos tive tivemos tiver tivera tiveram tiveramos
tiverem tivermos tivesse tivessem tivessemos tu tua tuas um uma voce voces vos
quais quanto quanta quantos quantas onde porque pq vc vcs pode podem posso poderia gostaria
queria quero saber preciso sobre oi ola bom boa tarde noite obrigado obrigada por favor tudo bem
"""

ENGLISH = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves
hi hello hey please thanks thank want need know tell get
"""

STOPWORDS = frozenset(PORTUGUESE.split()) | frozenset(ENGLISH.split())
