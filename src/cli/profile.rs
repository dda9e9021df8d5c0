//! `scgen profile show`: the merged profile a build would use, each value
//! with the layer that set it. The merge and the origins are
//! `profile`'s; this renders them.

use super::{print, Format, ShowArgs};
use crate::error::Result;

pub(super) fn show(args: ShowArgs) -> Result<()> {
    use crate::profile::Origin;
    let origin = args.profile.map_or(Origin::Embedded, Origin::File);
    let p = crate::profile::load(&origin, &args.set)?;
    let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).expect("JSON") + "\n";
    print(&match (args.format, args.origin) {
        (Format::Text, o) => p.show(o),
        (Format::Json, false) => json(serde_json::json!(p.merged())),
        (Format::Json, true) => json(serde_json::json!(p.settings())),
    })
}
