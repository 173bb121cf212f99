"""The Malmö-like directory the demo and the tests start from."""
from __future__ import annotations

# (code, name_sv, name_en, is_contact_center)
DEPARTMENTS = [
    ("serviceforvaltningen", "Serviceförvaltningen", "Service Administration", True),
    ("asf", "Arbetsmarknads- och socialförvaltningen", "Labour Market and Social Services Administration", False),
    ("hvo", "Hälsa- vård- och omsorgsförvaltningen", "Health, Care and Welfare Administration", False),
    ("forskola", "Förskoleförvaltningen", "Preschool Administration", False),
    ("grundskola", "Grundskoleförvaltningen", "Compulsory School Administration", False),
    ("gymnasie", "Gymnasie- och vuxenutbildningsförvaltningen", "Upper Secondary and Adult Education Administration", False),
    ("kultur", "Kulturförvaltningen", "Culture Administration", False),
    ("fritid", "Fritidsförvaltningen", "Leisure Administration", False),
    ("miljo", "Miljöförvaltningen", "Environment Department", False),
    ("sbk", "Stadsbyggnadskontoret", "City Planning Office", False),
    ("fgk", "Fastighets- och gatukontoret", "Real Estate and Streets Office", False),
    ("funktionsstod", "Funktionsstödsförvaltningen", "Disability Support Administration", False),
]

# (code, name_sv, name_en, department, queue kind, confidential)
QUEUES = [
    ("kc-forsta-linjen", "Kontaktcenter – första linjen", "Contact center – first line", "serviceforvaltningen", "first_line", False),
    ("kc-flersprakig", "Kontaktcenter – flerspråkig service", "Contact center – multilingual service", "serviceforvaltningen", "first_line", False),
    ("kc-aterringning", "Kontaktcenter – återuppringning", "Contact center – callbacks", "serviceforvaltningen", "first_line", False),
    ("kc-lokal-service", "Kontaktcenter – lokal service", "Contact center – local service", "serviceforvaltningen", "first_line", False),
    ("asf-forsorjningsstod", "Försörjningsstöd – handläggare", "Financial assistance – case officers", "asf", "department", True),
    ("asf-arbetsmarknad", "Arbetsmarknad – handläggare", "Labour market – case officers", "asf", "department", False),
    ("hvo-bistand", "Biståndshandläggning äldre", "Elderly care assessment", "hvo", "department", False),
    ("forskola-placering", "Förskoleplacering", "Preschool placement", "forskola", "department", False),
    ("grundskola-antagning", "Skolval och antagning", "School choice and admission", "grundskola", "department", False),
    ("gymnasie-antagning", "Gymnasieantagning och vuxenutbildning", "Upper secondary and adult education admission", "gymnasie", "department", False),
    ("kultur-bibliotek", "Bibliotek och kultur", "Libraries and culture", "kultur", "department", False),
    ("fritid-bokning", "Bokning och föreningsstöd", "Bookings and club grants", "fritid", "department", False),
    ("miljo-tillsyn", "Miljötillsyn", "Environmental inspection", "miljo", "department", False),
    ("sbk-bygglov", "Bygglov", "Building permits", "sbk", "department", False),
    ("fgk-gata", "Gata och park – felanmälan", "Streets and parks – fault reports", "fgk", "department", False),
    ("fgk-parkering", "Parkeringstillstånd", "Parking permits", "fgk", "department", False),
    ("funktionsstod-handlaggning", "Funktionsstöd – handläggare", "Disability support – case officers", "funktionsstod", "department", True),
]

# (code, name_sv, name_en, department, group, flags) — flags: c confidential,
# p needs personnummer, w walk-in topic only, o offered to Open311 clients, u its requests
# are public (Open311 shows anyone their text and place: faults in streets and parks).
SERVICES = [
    ("allmant", "Allmän fråga", "General question", "serviceforvaltningen", "ovrigt", ""),
    ("forsorjningsstod", "Försörjningsstöd (ekonomiskt bistånd)", "Financial assistance", "asf", "ekonomi", "cp"),
    ("budget-skuldradgivning", "Budget- och skuldrådgivning", "Budget and debt counselling", "asf", "ekonomi", "c"),
    ("arbetsmarknad", "Jobb och arbetsmarknadsinsatser", "Jobs and employment support", "asf", "arbete", ""),
    ("hemtjanst", "Hemtjänst", "Home help services", "hvo", "omsorg", "p"),
    ("trygghetslarm", "Trygghetslarm", "Personal safety alarm", "hvo", "omsorg", "p"),
    ("sarskilt-boende", "Särskilt boende", "Residential care", "hvo", "omsorg", "p"),
    ("forskoleplats", "Förskoleplats", "Preschool place", "forskola", "skola", "p"),
    ("forskoleavgift", "Avgifter för förskola", "Preschool fees", "forskola", "skola", ""),
    ("skolval", "Skolval", "School choice", "grundskola", "skola", ""),
    ("skolskjuts", "Skolskjuts", "School transport", "grundskola", "skola", ""),
    ("fritidshem", "Fritidshem", "After-school centre", "grundskola", "skola", ""),
    ("gymnasieval", "Gymnasieval", "Upper secondary school choice", "gymnasie", "skola", ""),
    ("vuxenutbildning", "Vuxenutbildning (Komvux)", "Adult education", "gymnasie", "skola", ""),
    ("bibliotekskort", "Bibliotekskort", "Library card", "kultur", "kultur", ""),
    ("kulturskolan", "Kulturskolan", "School of arts", "kultur", "kultur", ""),
    ("utskrift-hjalp", "Hjälp att skriva ut dokument", "Help printing documents", "kultur", "kultur", "w"),
    ("digital-hjalp", "Digital hjälp (BankID, e-tjänster)", "Digital help (BankID, e-services)", "kultur", "kultur", "w"),
    ("foreningsbidrag", "Föreningsbidrag", "Club grants", "fritid", "fritid", ""),
    ("lokalbokning", "Boka idrottshall eller lokal", "Book a sports hall or venue", "fritid", "fritid", ""),
    ("buller-klagomal", "Klagomål på buller och miljö", "Noise and environmental complaints", "miljo", "miljo", "o"),
    ("livsmedelskontroll", "Livsmedelskontroll", "Food inspection", "miljo", "miljo", ""),
    ("bygglov", "Bygglov", "Building permit", "sbk", "bygga", ""),
    ("kartor-matning", "Kartor och mätning", "Maps and surveying", "sbk", "bygga", ""),
    ("felanmalan-gata", "Felanmälan gata och park", "Street and park fault report", "fgk", "gata", "ou"),
    ("gatubelysning", "Trasig gatubelysning", "Broken street lighting", "fgk", "gata", "ou"),
    ("klotter", "Klotter och nedskräpning", "Graffiti and littering", "fgk", "gata", "ou"),
    ("avfall", "Avfall och sophämtning", "Waste collection", "fgk", "gata", "o"),
    ("parkeringstillstand", "Parkeringstillstånd för rörelsehindrade", "Disabled parking permit", "fgk", "gata", "p"),
    ("fardtjanst", "Färdtjänst", "Mobility service", "funktionsstod", "omsorg", "p"),
    ("lss-insatser", "Stöd enligt LSS", "Support under the LSS act", "funktionsstod", "omsorg", "cp"),
]

SERVICE_GROUPS = {
    "ekonomi": ("Ekonomi och socialt stöd", "Money and social support"),
    "arbete": ("Arbete", "Work"),
    "omsorg": ("Omsorg och funktionsstöd", "Care and disability support"),
    "skola": ("Förskola och skola", "Preschool and school"),
    "kultur": ("Bibliotek och kultur", "Libraries and culture"),
    "fritid": ("Fritid och föreningar", "Leisure and clubs"),
    "miljo": ("Miljö och hälsa", "Environment and health"),
    "bygga": ("Bygga och bo", "Building and housing"),
    "gata": ("Gator, trafik och parker", "Streets, traffic and parks"),
    "ovrigt": ("Övrigt", "Other"),
}

# (code, name, kind, district, queue numbers)
LOCATIONS = [
    ("kc-malmo", "Kontaktcenter Malmö", "contact_center", "Centrum", False),
    ("filial-rosengard", "Kontaktcenter filial Rosengård", "branch", "Rosengård", True),
    ("filial-holma", "Kontaktcenter filial Holma/Kroksbäck", "branch", "Hyllie", True),
    ("filial-lindangen", "Kontaktcenter filial Lindängen", "branch", "Fosie", True),
    ("bibl-stadsbiblioteket", "Stadsbiblioteket", "library", "Centrum", True),
    ("bibl-garaget", "Garaget", "library", "Södra Innerstaden", False),
    ("bibl-rosengard", "Rosengårds bibliotek", "library", "Rosengård", False),
    ("bibl-husie", "Husie bibliotek", "library", "Husie", False),
    ("bibl-kirseberg", "Kirsebergs bibliotek", "library", "Kirseberg", False),
    ("sp-hyllie", "Servicepunkt Hyllie", "service_point", "Hyllie", False),
]

# (username, name, role, department, location, languages, queues, password) — each password passes the
# policy (auth/passwords.py): 12+ characters, no username in it, not a leaked password.
DEMO_USERS = [
    ("agent", "Amira Karlsson", "agent", "serviceforvaltningen", "kc-malmo", ["sv", "en", "ar"],
     ["kc-forsta-linjen", "kc-flersprakig", "kc-aterringning"], "amira-malmo-demo-2026"),
    ("agent2", "Johan Lind", "agent", "serviceforvaltningen", "kc-malmo", ["sv", "en"],
     ["kc-forsta-linjen", "kc-aterringning"], "johan-malmo-demo-2026"),
    ("filial", "Sara Nilsson", "agent", "serviceforvaltningen", "filial-rosengard", ["sv", "ar", "so"],
     ["kc-lokal-service", "kc-forsta-linjen"], "sara-malmo-demo-2026"),
    ("handlaggare", "Per Andersson", "caseworker", "asf", None, ["sv"],
     ["asf-forsorjningsstod", "asf-arbetsmarknad"], "per-malmo-demo-2026"),
    ("bygglov", "Lena Ek", "caseworker", "sbk", None, ["sv", "en"], ["sbk-bygglov"], "lena-malmo-demo-2026"),
    ("samordnare", "Maria Holm", "coordinator", "asf", None, ["sv"], [], "maria-malmo-demo-2026"),
    ("kultursamordnare", "Ali Hassan", "coordinator", "kultur", None, ["sv", "ar"], [], "ali-malmo-demo-2026"),
    ("chef", "Eva Berg", "manager", "serviceforvaltningen", None, ["sv"], [], "eva-malmo-demo-2026"),
    ("admin", "Admin Adminsson", "admin", "serviceforvaltningen", None, ["sv"], [], "styrning-malmo-demo-2026"),
    ("bibliotek", "Kim Persson", "location_staff", "kultur", "bibl-stadsbiblioteket", ["sv", "en"], [], "kim-malmo-demo-2026"),
    ("dataskydd", "Nora Lindqvist", "dataskydd", "serviceforvaltningen", None, ["sv"], [], "nora-malmo-demo-2026"),
]

# Gallring (privacy/gallring.py): service → (retention period after closure, action).
# Services not listed keep personal data one year, then are anonymised (the column
# defaults). Chosen for Malmö's demo, to be replaced by each förvaltning's gallringsbeslut:
# - confidential social-services and care errands: two years, anonymised (the case file
#   itself lives in the förvaltning's own system; ours is the contact record);
# - quick help at the desk and general questions: six months, deleted (nothing of record);
# - fault reports on streets and waste: one year, deleted (the fix is recorded elsewhere).
RETENTION = {
    "forsorjningsstod": ("P2Y", "anonymise"),
    "budget-skuldradgivning": ("P2Y", "anonymise"),
    "lss-insatser": ("P2Y", "anonymise"),
    "hemtjanst": ("P2Y", "anonymise"),
    "trygghetslarm": ("P2Y", "anonymise"),
    "sarskilt-boende": ("P2Y", "anonymise"),
    "fardtjanst": ("P2Y", "anonymise"),
    "parkeringstillstand": ("P2Y", "anonymise"),
    "allmant": ("P6M", "delete"),
    "utskrift-hjalp": ("P6M", "delete"),
    "digital-hjalp": ("P6M", "delete"),
    "bibliotekskort": ("P6M", "delete"),
    "felanmalan-gata": ("P1Y", "delete"),
    "gatubelysning": ("P1Y", "delete"),
    "klotter": ("P1Y", "delete"),
    "avfall": ("P1Y", "delete"),
}
DEFAULT_RETENTION = ("P1Y", "anonymise")
